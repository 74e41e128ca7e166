"""Figures and report folders for backtests and benchmark suites (matplotlib, loaded
lazily)."""
