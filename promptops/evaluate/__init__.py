"""Evaluation: planning the tasks, running them (async, bounded), the cache, the results store, summaries."""
