"""curtin's swap rule, on a table of machines worked out by hand from curtin's swap.py.

The held-out comparison that found a 695 MiB /swap.img where curtin makes
none is row "small disk": 1.4 GiB of memory, 2780 MiB free in the target.
"""

from __future__ import annotations

import logging
import os

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.curthooks import swap
from cloudinit_maaslike.curthooks.context import HookContext
from tests.fakerunner import FakeRunner

MiB, GiB = 1 << 20, 1 << 30


@pytest.mark.parametrize("memory,available,maxsize,expected", [
    pytest.param(512 * MiB, None, None, 1 * GiB, id="under 1G: twice the memory"),
    pytest.param(1434 * MiB, 2780 * MiB, None, 0, id="small disk: a quarter of free space is under half the memory"),
    pytest.param(3 * GiB, 100 * GiB, None, 3 * GiB, id="under 4G: as much as the memory"),
    pytest.param(8 * GiB, 100 * GiB, None, 4 * GiB, id="under 16G: 4G"),
    pytest.param(16 * GiB, 1024 * GiB, None, 4 * GiB, id="16G exactly: 4G, not none"),
    pytest.param(32 * GiB, 100 * GiB, None, 8 * GiB, id="under 64G: half, bounded by 8G"),
    pytest.param(128 * GiB, 100 * GiB, None, 8 * GiB, id="beyond the table: the bound"),
    pytest.param(8 * GiB, 10 * GiB, 20 * GiB, 4 * GiB, id="maxsize over 90% of free space is cut to it"),
    pytest.param(2 * GiB, None, 1 * GiB, 1 * GiB, id="maxsize alone bounds the suggestion"),
    pytest.param(3 * GiB, 4 * GiB, None, 0, id="bounded under half the memory: none"),
    pytest.param(6 * GiB, 9 * GiB, None, 0, id="2.25G for 6G of memory: none"),
])
def test_suggested_size_follows_curtins_table(memory, available, maxsize, expected):
    assert swap.suggested_size(memory, available, maxsize) == expected


def machine(tmp_path, memory_kib):
    (tmp_path / "host/proc").mkdir(parents=True)
    (tmp_path / "host/proc/meminfo").write_text(f"MemTotal:       {memory_kib} kB\nMemFree: 1 kB\n")
    (tmp_path / "target").mkdir()
    return tmp_path


def run_swap(tmp_path, cfg, fstype="ext4"):
    fstab = tmp_path / "fstab"
    ctx = HookContext(cfg=cfg, target=str(tmp_path / "target"), state={}, log=logging.getLogger("test"),
                      in_target=lambda argv, stdin: pytest.fail("nothing runs in the target"),
                      host_root=str(tmp_path / "host"))
    with runner.replaced(FakeRunner({"findmnt": fstype})) as fake:
        done = swap.setup_swap(ctx, str(fstab))
    return done, fake.programs(), fstab.read_text() if fstab.exists() else ""


@pytest.mark.parametrize("cfg", [{"swap": {}}, {"swap": None}, {"swap": False}, {"swap": {"size": 0}},
                                 {"swap": {"size": "0"}}])
def test_an_empty_swap_section_or_a_zero_size_turns_swap_off(tmp_path, cfg):
    assert run_swap(machine(tmp_path, 4 << 20), cfg) == ([], [], "")


def test_a_given_size_is_not_bounded_by_maxsize(tmp_path):
    done, programs, fstab = run_swap(machine(tmp_path, 4 << 20), {"swap": {"size": "3M", "maxsize": "1M"}})
    assert done == ["/swap.img (3 MiB)"] and programs == ["findmnt", "mkswap"]
    assert os.path.getsize(tmp_path / "target/swap.img") == 3 * MiB
    assert fstab == "/swap.img\tnone\tswap\tsw\t0\t0\n"


def test_a_relative_filename_is_taken_from_the_root(tmp_path):
    done, _, fstab = run_swap(machine(tmp_path, 4 << 20), {"swap": {"size": "1M", "filename": "swapfile"}})
    assert done == ["/swapfile (1 MiB)"] and fstab.startswith("/swapfile\t")


def test_without_a_size_a_machine_whose_disk_is_small_gets_no_swap(tmp_path, monkeypatch):
    monkeypatch.setattr(swap, "_free_bytes", lambda path: 2780 * MiB)
    assert run_swap(machine(tmp_path, 1434 * 1024), {}) == ([], [], "")


def test_without_a_size_the_suggestion_is_made_in_whole_mib(tmp_path, monkeypatch):
    monkeypatch.setattr(swap, "_free_bytes", lambda path: 100 * GiB)
    monkeypatch.setattr(swap, "_allocate", lambda path, size: open(path, "wb").close())
    done, _, _ = run_swap(machine(tmp_path, 40 * 1024 * 1024 + 2), {"swap": {"maxsize": "30G"}})
    assert done == ["/swap.img (20480 MiB)"]  # half of 40 GiB and 2 KiB, in whole MiB


@pytest.mark.parametrize("fstype", ["zfs", ""])
def test_no_swap_file_on_zfs_or_an_unknown_filesystem_unless_forced(tmp_path, fstype):
    root = machine(tmp_path, 4 << 20)
    assert run_swap(root, {"swap": {"size": "1M"}}, fstype=fstype)[0] == []
    assert not (root / "target/swap.img").exists()
    assert run_swap(root, {"swap": {"size": "1M", "force": True}}, fstype=fstype)[0] == ["/swap.img (1 MiB)"]


@pytest.mark.parametrize("kernel,made", [(None, False), ("4.15.0.213.196", False), ("6.8.0-31.31", True)])
def test_btrfs_needs_a_kernel_of_5_or_later_in_the_target(tmp_path, kernel, made):
    root = machine(tmp_path, 4 << 20)
    (root / "target/var/lib/dpkg").mkdir(parents=True)
    stanza = f"Package: linux-image-generic\nStatus: install ok installed\nVersion: {kernel}\n" if kernel else ""
    (root / "target/var/lib/dpkg/status").write_text("Package: bash\nVersion: 5.2\n\n" + stanza)
    assert bool(run_swap(root, {"swap": {"size": "1M"}}, fstype="btrfs")[0]) is made


def test_swap_keys_are_checked_before_anything_runs():
    from cloudinit_maaslike.config.problems import Problems

    problems = Problems()
    swap.parse({"size": "lots", "force": "yes", "bigness": "1G"}, "swap", problems)
    assert sorted(p.path for p in problems.errors) == ["swap.force", "swap.size"]
    assert [p.path for p in problems.warnings] == ["swap.bigness"]


@pytest.mark.parametrize("cfg,expected", [
    pytest.param({}, swap.SwapSettings(), id="absent: curtin's suggestion"),
    pytest.param({"swap": None}, swap.SwapSettings(enabled=False), id="present and empty: off"),
    pytest.param({"swap": {}}, swap.SwapSettings(enabled=False), id="an empty mapping: off"),
    pytest.param({"swap": {"size": 0}}, swap.SwapSettings(size=0), id="size 0 stays 0 (no swap)"),
    pytest.param({"swap": {"size": "2G", "maxsize": 1 << 20, "filename": "boot/s.img", "force": True}},
                 swap.SwapSettings(size=2 * GiB, maxsize=MiB, filename="/boot/s.img", force=True), id="everything"),
    pytest.param({"swap": {"maxsize": ""}}, swap.SwapSettings(), id="an empty size is unset"),
])
def test_the_section_is_parsed_with_curtins_meanings(cfg, expected):
    from cloudinit_maaslike.config.problems import Problems
    from cloudinit_maaslike.curthooks import parse_curthooks

    problems = Problems()
    assert parse_curthooks(cfg, problems).swap == expected
    assert problems.errors == []


def test_a_meminfo_without_memtotal_fails_the_step_naming_the_file(tmp_path):
    from cloudinit_maaslike.curthooks.context import StepFailed

    (tmp_path / "meminfo").write_text("MemFree: 1 kB\n")
    with pytest.raises(StepFailed, match=r"swap: .*meminfo has no MemTotal line"):
        swap.memory_total(str(tmp_path / "meminfo"))
