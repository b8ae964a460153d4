"""The network fixtures under tests/fixtures/net, shared by the unit and integration tests."""

from __future__ import annotations

import os

import yaml

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "net")


def fixture(name: str) -> dict:
    """The `network:` section of a fixture file."""
    with open(os.path.join(FIXTURES, name)) as handle:
        return yaml.safe_load(handle)["network"]


def golden(name: str) -> str:
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()
