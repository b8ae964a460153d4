"""Fixtures shared by every suite."""

from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cloudinit: runs real cloud-init releases in a private root")
    config.addinivalue_line("markers", "root: needs root (mounts, loop devices)")
    config.addinivalue_line("markers", "e2e: boots a VM")
    config.addinivalue_line("markers", "images: builds or uses the cached Debian images (root; slow cold)")


@pytest.fixture
def repo() -> str:
    return REPO


@pytest.fixture
def maaslike_cmd() -> list:
    """The `maaslike` command as installed in this environment."""
    return [sys.executable, "-m", "cloudinit_maaslike"]
