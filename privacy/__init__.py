"""Pure privacy library: statistical disclosure control and differential privacy on DataFrames.

It imports nothing from the web app, the database layer or the task queue (enforced by ruff's
banned-api rule and tests/unit/test_layering.py)."""
