"""Helpers the tests (and bench/) import: servers, emulators, contracts, builders.

pytest discovers fixtures in tests/conftest.py; everything a test module imports by
name lives here, so no test module imports another."""
