"""Helpers for the test suite (not tests themselves)."""
