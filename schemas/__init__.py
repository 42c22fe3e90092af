"""Pure data-contract library: the indicator catalogue, reference data, periods and upload
validation. It takes and returns DataFrames and imports nothing from the web app, the database
layer or the task queue (enforced by ruff's banned-api rule and tests/unit/test_layering.py)."""
