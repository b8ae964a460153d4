"""`maaslike unpack` on hostile payloads, as a real process: one error line, never a crash.

Before the bounded readers, 50,000 nested ``[`` in a config killed the
process with SIGSEGV (rc 139, PyYAML's C loader) and a 600-byte alias bomb
ran for half an hour.  The process runs under a memory limit and a timeout
so a regression fails here instead of taking the machine down.
"""

import resource
import subprocess

import pytest

from tests.fixtures.payload import hostile

MEMORY = 1024 ** 3
TIMEOUT = 60


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def unpack(maaslike_cmd, tmp_path, data):
    (tmp_path / "payload").write_bytes(data)
    return subprocess.run([*maaslike_cmd, "unpack", "payload", "--output", "out"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limited)


@pytest.mark.parametrize("config,problem", [
    (hostile.nested_flow(50_000), "configs/config-000.cfg: line 1: nesting deeper than 100 levels (limit: max_depth)"),
    (hostile.ALIAS_BOMB, "more than 100000 nodes once aliases are expanded (limit: max_nodes)"),
])
def test_hostile_configs_end_in_one_error_line(tmp_path, maaslike_cmd, config, problem):
    done = unpack(maaslike_cmd, tmp_path, hostile.with_config(config))
    assert done.returncode == 2, f"rc={done.returncode} (139 is a segfault): {done.stderr[-2000:]}"
    assert done.stdout == ""
    assert done.stderr.startswith("maaslike unpack: error: ") and done.stderr.count("\n") == 1
    assert problem in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("build,problem", [
    (lambda: hostile.padded_gzip_userdata(100 * 1024 * 1024),
     "gzip user-data holding an install payload cannot be read: expands past its 64 MiB decoding budget"),
    (hostile.long_header_line, "header line 6 is longer than 65536 bytes"),
    (hostile.deep_directories, "is more than 64 directories deep"),
])
def test_hostile_payloads_end_in_one_error_line(tmp_path, maaslike_cmd, build, problem):
    done = unpack(maaslike_cmd, tmp_path, build())
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.startswith("maaslike unpack: error: ") and done.stderr.count("\n") == 1
    assert problem in done.stderr
