"""Unit tests run no programs: a test that needs one belongs in integration/."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(autouse=True)
def _no_subprocesses(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("allow_subprocess"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"unit tests may not start programs: {args[:1]!r}")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_subprocess: this unit test may start programs")
