"""Releases, environments and the ledger: bundles, tags, promote, rollback, kill switch. Plan first, then apply."""
