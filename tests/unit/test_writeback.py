import os
import threading
import time

from cloudinit_maaslike.sources.writeback import EarlyWriteback


def test_the_filesystem_is_flushed_while_the_extraction_runs_and_the_thread_ends(tmp_path):
    before = set(os.listdir("/proc/self/fd"))
    with EarlyWriteback(str(tmp_path), interval=0.02) as flusher:
        (tmp_path / "f").write_bytes(b"x" * 4096)
        deadline = time.monotonic() + 20  # a busy disk makes one syncfs slow, not absent
        while flusher.flushes < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert flusher.flushes >= 3  # flushes happen during the work, not after it
        assert any(t.name == "early-writeback" for t in threading.enumerate())
    assert not any(t.name == "early-writeback" for t in threading.enumerate())
    assert set(os.listdir("/proc/self/fd")) <= before | {str(n) for n in range(3)}


def test_an_exception_inside_still_stops_the_flusher(tmp_path):
    try:
        with EarlyWriteback(str(tmp_path), interval=0.01):
            raise RuntimeError("tar failed")
    except RuntimeError:
        pass
    assert not any(t.name == "early-writeback" for t in threading.enumerate())


def test_a_device_fd_is_flushed_with_fdatasync(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(fd))
    with EarlyWriteback(device_fd=7, interval=0.01):
        time.sleep(0.1)
    assert calls and set(calls) == {7}


def test_a_failing_flush_stops_quietly_and_leaves_the_error_to_the_final_sync(monkeypatch):
    def broken(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    with EarlyWriteback(device_fd=7, interval=0.01) as flusher:
        time.sleep(0.05)
    assert flusher.flushes == 0
