from __future__ import annotations

import pytest

from .servers import FlakyServer, start_maas


@pytest.fixture
def maas(tmp_path):
    server = start_maas(str(tmp_path / "server-state"))
    yield server
    server.server.stop()


@pytest.fixture
def flaky():
    made = []

    def make(script):
        server = FlakyServer(script)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
