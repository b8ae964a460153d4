"""Every transfer has a deadline and a budget (issue 11, point 5).

Real HTTP servers on loopback that drip a byte now and then, never answer,
or never stop: the metadata crawl ends by `max_wait`, each answer by
`request_deadline`, each item is capped by `max_item_size`, and an image
download that stalls is resumed and then given up on, all with one clear
line.  Thresholds are small so every test runs in seconds; bench/stall.py
measures the defaults.

Each scenario runs in a worker thread joined with a timeout, so without
these limits a test fails (instead of hanging the suite).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import re
import subprocess
import tarfile
import threading
import time
from typing import Any, Callable, Dict

import pytest

from cloudinit_maaslike.config.model import DownloadSettings
from cloudinit_maaslike.config.parse import parse_install_config
from cloudinit_maaslike.errors import MetadataError, MetadataUnavailable
from cloudinit_maaslike.metadata import crawl
from cloudinit_maaslike.sources.reader import SourceError, SourceReader
from cloudinit_maaslike.sources.tarball import extract_tarball

from .dripserver import DripServer

MD = "/MAAS/metadata/2012-03-01/"
ITEMS = ("meta-data/instance-id", "meta-data/local-hostname", "meta-data/public-keys",
         "meta-data/vendor-data", "user-data")
MiB = 1 << 20


def bounded(fn: Callable[[], Any], seconds: float) -> Dict[str, Any]:
    """Run `fn` on a thread; the result, the exception and the time it took."""
    out: Dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    out["seconds"] = time.monotonic() - started
    assert not worker.is_alive(), f"still running after {seconds} s: no deadline"
    return out


@pytest.fixture
def drip():
    made = []

    def make(*args, **kwargs) -> DripServer:
        server = DripServer(*args, **kwargs)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


# --- metadata ------------------------------------------------------------------------------


def test_a_dripping_server_is_given_up_on_by_max_wait(drip):
    """One byte every 0.5 s (under the 10 s read timeout): the crawl still ends by max_wait."""
    server = drip(default=("drip", 0, 0.5), files={MD + i: b"x" * 400 for i in ITEMS})
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=3), 20)
    error = out.get("error")
    assert isinstance(error, MetadataUnavailable), out
    assert out["seconds"] < 3 + 1.5
    message = str(error)
    assert server.url(MD) in message and "max_wait: 3 s" in message
    assert "not complete by the deadline" in message and "\n" not in message


def test_each_answer_has_its_own_deadline_and_is_retried(drip):
    """user-data drips once (would take 20 s): cut at request_deadline, the retry succeeds."""
    body = b"#cloud-config\n" + b"x" * 86
    server = drip(script={MD + "user-data": [("drip", 10, 0.2), ("ok",)]}, files={MD + "user-data": body})
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=20, request_deadline=1), 25)
    assert "error" not in out, out
    md, _ = out["value"]
    assert md.userdata_raw == body
    assert 1 <= out["seconds"] < 4
    assert [r["path"] for r in server.requests].count(MD + "user-data") == 2


def test_a_silent_server_still_fails_on_the_read_timeout(drip):
    """No regression: the message names the read timeout, as before."""
    server = drip(default=("silent",))
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, timeout=0.5, max_wait=2), 10)
    assert isinstance(out.get("error"), MetadataUnavailable), out
    assert "read timeout" in str(out["error"]) and out["seconds"] < 3.5


def test_dripping_headers_are_cut_too(drip):
    server = drip(default=("drip-headers", 0.05))
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=2), 10)
    assert isinstance(out.get("error"), MetadataUnavailable), out
    assert out["seconds"] < 3.5


@pytest.mark.parametrize("framing", ["chunked", "close", "length"])
def test_an_endless_item_is_refused_at_the_cap(drip, framing):
    """Never read into memory past max_item_size, whatever the framing; no retry."""
    server = drip(script={MD + "user-data": [("endless", framing)]})
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=30, max_item_size=MiB), 20)
    error = out.get("error")
    assert isinstance(error, MetadataError) and not isinstance(error, MetadataUnavailable), out
    assert str(error) == (f"user-data: the answer from {server.url(MD + 'user-data')} is larger than"
                          " the 1 MiB limit (max_item_size)")
    assert out["seconds"] < 5
    assert [r["path"] for r in server.requests].count(MD + "user-data") == 1


def test_the_default_cap_is_64_mib(drip):
    server = drip(script={MD + "user-data": [("endless", "length")]})
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=30), 20)
    assert "larger than the 64 MiB limit (max_item_size)" in str(out.get("error")), out


def test_an_item_at_the_cap_is_accepted(drip):
    body = b"#!/bin/sh\n" + b"#" * (MiB - 10)
    server = drip(files={MD + "user-data": body})
    out = bounded(lambda: crawl(server.url("/MAAS/metadata/"), None, max_wait=30, max_item_size=MiB), 20)
    assert "error" not in out, out
    assert out["value"][0].userdata_raw == body


def test_cli_crawl_against_a_dripping_server_ends_by_max_wait(drip, maaslike_cmd):
    server = drip(default=("drip", 0, 1.0), files={MD + i: b"x" * 400 for i in ITEMS})
    started = time.monotonic()
    done = subprocess.run([*maaslike_cmd, "crawl", "--metadata-url", server.url("/MAAS/metadata/"),
                           "--max-wait", "5"], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode != 0 and done.stdout == ""
    assert elapsed < 5 + 3, elapsed
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("maaslike crawl: error: ") and server.url(MD) in lines[0]
    assert "max_wait: 5 s" in lines[0]


def test_cli_crawl_refuses_an_endless_item_in_one_line(drip, maaslike_cmd):
    server = drip(script={MD + "user-data": [("endless", "chunked")]})
    done = subprocess.run([*maaslike_cmd, "crawl", "--metadata-url", server.url("/MAAS/metadata/"),
                           "--max-item-size", str(4 * MiB)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr == (f"maaslike crawl: error: user-data: the answer from {server.url(MD + 'user-data')}"
                           " is larger than the 4 MiB limit (max_item_size)\n")


# --- image downloads -----------------------------------------------------------------------


def tarball(size: int = 3 * MiB) -> bytes:
    """An uncompressed tarball with an incompressible member, so the bytes flow as sent."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = os.urandom(size)
        info = tarfile.TarInfo("etc/big")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


FAST = DownloadSettings(stall_seconds=1.0, min_rate=64 << 10, stall_retries=1)


def extract(server: DripServer, name: str, target, stall: DownloadSettings = FAST, sha256=None):
    reader = SourceReader(server.url(name), sha256, stall=stall)

    def run() -> Any:
        reader.open()
        return extract_tarball(reader, str(target))

    return reader, run


@pytest.mark.parametrize("compress", ["none", "gzip"])
def test_a_dripping_image_fails_the_stage_after_resuming(drip, tmp_path, compress):
    image = tarball() if compress == "none" else gzip.compress(tarball(), 1)
    # the first answer drips after 1 MiB, the resumed one at once
    server = drip(script={"/root.tar": [("drip", MiB, 0.2), ("drip", 0, 0.2)]}, files={"/root.tar": image})
    reader, run = extract(server, "root.tar", tmp_path)
    out = bounded(run, 30)
    error = out.get("error")
    assert isinstance(error, SourceError), out
    # one window, one resume (stall_retries: 1), one more window
    assert 2 <= out["seconds"] < 4, out["seconds"]
    assert str(error).startswith(f"{server.url('root.tar')}: download stalled at byte ")
    assert f"of {len(image)} (" in str(error) and "under the 64 KiB/s floor" in str(error)
    assert "gave up after 1 resume (" in str(error) and "\n" not in str(error)
    ranges = [r["range"] for r in server.requests if r["path"] == "/root.tar"]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and len(ranges) == 2


def test_a_stalled_image_is_resumed_and_verified(drip, tmp_path, caplog):
    image = tarball()
    digest = hashlib.sha256(image).hexdigest()
    server = drip(script={"/root.tar": [("drip", MiB, 0.2), ("ok",)]}, files={"/root.tar": image})
    reader, run = extract(server, "root.tar", tmp_path, sha256=digest)
    with caplog.at_level(logging.WARNING, "cloudinit_maaslike.install"):
        out = bounded(run, 30)
    assert out.get("value") == digest, out
    assert out["seconds"] < 3
    assert os.path.getsize(tmp_path / "etc/big") == 3 * MiB
    stalled = [r.getMessage() for r in caplog.records if "stalled at byte" in r.getMessage()]
    assert len(stalled) == 1 and reader.resumes == 0
    at = int(re.search(r"stalled at byte (\d+) of", stalled[0]).group(1))
    assert MiB <= at < MiB + 100
    ranges = [r["range"] for r in server.requests if r["path"] == "/root.tar"]
    assert ranges == [None, f"bytes={at}-"]


@pytest.mark.parametrize("step", [("silent",), ("drip-headers", 0.1)])
def test_an_image_server_that_never_answers_is_given_up_on(drip, tmp_path, step):
    server = drip(default=step)
    reader, run = extract(server, "root.tar", tmp_path)
    out = bounded(run, 30)
    assert isinstance(out.get("error"), SourceError), out
    assert "download stalled at byte 0" in str(out["error"])
    assert out["seconds"] < 4


def test_a_slow_image_above_the_floor_is_not_a_stall(drip, tmp_path):
    image = tarball(MiB // 2)
    server = drip(default=("slow", 256 << 10), files={"/root.tar": image})
    reader, run = extract(server, "root.tar", tmp_path,
                          stall=DownloadSettings(stall_seconds=1.0, min_rate=32 << 10, stall_retries=0))
    out = bounded(run, 30)
    assert "error" not in out, out
    assert reader.stalls == 0 and reader.resumes == 0


def test_a_slow_consumer_is_not_a_stall(drip):
    """Back pressure (a slow disk) must never pass for a stalled network."""
    image = os.urandom(2 * MiB)
    server = drip(files={"/disk.img": image})
    reader = SourceReader(server.url("disk.img"), stall=DownloadSettings(stall_seconds=0.5, min_rate=1 << 20,
                                                                          stall_retries=0))

    def run() -> bytes:
        reader.open()
        got = []
        while True:
            data = reader.read(MiB)
            if not data:
                break
            got.append(data)
            time.sleep(0.3)  # three of these outlast the stall window
        reader.finish()
        return b"".join(got)

    out = bounded(run, 60)
    assert out.get("value") == image, out.get("error")
    assert reader.stalls == 0 and reader.resumes == 0


def test_without_a_rate_floor_only_silence_is_a_stall(drip):
    """download_min_rate: 0: a byte every 0.3 s keeps a 1 s window alive, for longer than the window."""
    image = tarball(MiB)
    server = drip(script={"/root.tar": [("drip", 1000, 0.3)]}, files={"/root.tar": image})
    reader = SourceReader(server.url("root.tar"), stall=DownloadSettings(1.0, 0, 0))

    def run() -> int:
        reader.open()
        count = 0
        while count < 1000 + 6:  # six dripped bytes: about 1.8 s
            count += len(reader.read(MiB))
        reader.close()
        return count

    out = bounded(run, 20)
    assert out.get("value") == 1006, out
    assert out["seconds"] > 1.5 and reader.stalls == 0 and reader.resumes == 0
    assert len([r for r in server.requests if r["path"] == "/root.tar"]) == 1


def test_the_settings_come_from_the_install_config(drip, tmp_path):
    cfg = parse_install_config({"stages": [], "install": {"download_stall_seconds": 1, "download_min_rate": 65536,
                                            "download_stall_retries": 0}})
    assert cfg.install.download == DownloadSettings(1.0, 65536, 0)
    image = tarball()
    server = drip(script={"/root.tar": [("drip", MiB, 0.2), ("drip", 0, 0.2)]}, files={"/root.tar": image})
    reader, run = extract(server, "root.tar", tmp_path, stall=cfg.install.download)
    out = bounded(run, 30)
    assert "gave up after 0 resumes" in str(out.get("error")), out
    assert out["seconds"] < 2.5
