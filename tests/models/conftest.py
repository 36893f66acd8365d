"""Fixtures of the ML tests."""

from tests.features.lake_fixture import ml_lake

__all__ = ["ml_lake"]
