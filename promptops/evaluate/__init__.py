"""Evaluating prompts: planning (plan.py), running, async and bounded (runner.py), the SQLite cache and results
(store.py), summaries and baseline classes (summary.py), recordings, overrides, shard merging, and the engine
that drives them (engine.py: `Evaluation(...).plan().run()`)."""
