"""What applications import: the runtime of a promptops environment."""
