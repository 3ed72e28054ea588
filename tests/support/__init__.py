"""Helpers the test suites share; fixtures are registered once in `tests/conftest.py`."""
