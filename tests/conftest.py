"""Shared test options: `--update-goldens` rewrites tests/golden/ from the current output."""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files instead of comparing against them")


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")
