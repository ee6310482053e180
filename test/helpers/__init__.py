"""Shared test helpers (importable as `helpers` thanks to `pythonpath = test` in pytest.ini)."""
