"""Shared test options: `--update-goldens` rewrites tests/golden/ from the current output."""
from __future__ import annotations

import os

import pytest
from hypothesis import settings

# In CI the property tests use a fixed sequence of examples (a red CI must be reproducible);
# locally they explore new inputs on every run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files instead of comparing against them")


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")
