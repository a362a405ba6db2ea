"""Report writers: data in, text out."""
