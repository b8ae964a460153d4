"""Storage and curthooks steps through the runner seam: the exact commands, and what their failures say."""

from __future__ import annotations

import logging
import os

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.curthooks import swap
from cloudinit_maaslike.curthooks.context import HookContext, StepFailed
from cloudinit_maaslike.runner import ProgramNotStarted
from cloudinit_maaslike.storage.commands import StorageError, run
from cloudinit_maaslike.storage.mkfs import make_filesystem
from tests.fakerunner import FakeRunner

UUID = "0e7a5b3c-1111-4222-8333-444455556666"


def test_mkfs_runs_exactly_the_command_for_the_filesystem():
    with runner.replaced(FakeRunner()) as fake:
        assert make_filesystem("ext4", "/dev/vdb1", label="root", fs_uuid=UUID) == UUID
        make_filesystem("xfs", "/dev/vdb2", fs_uuid=UUID)
    assert fake.calls[0][0] == "mkfs.ext4" and fake.calls[0][-1] == "/dev/vdb1"
    assert "-L" in fake.calls[0] and "root" in fake.calls[0] and UUID in fake.calls[0]
    assert fake.calls[1][0] == "mkfs.xfs" and fake.calls[1][-1] == "/dev/vdb2"


def test_a_storage_tool_that_is_missing_is_named_with_its_step():
    with runner.replaced(FakeRunner(missing=["mkfs.xfs"])), \
            pytest.raises(StorageError, match=r"format /dev/vdb2 as xfs: cannot run mkfs.xfs: No such file"):
        make_filesystem("xfs", "/dev/vdb2", fs_uuid=UUID)


def test_a_failing_storage_tool_shows_its_command_and_last_words():
    with runner.replaced(FakeRunner({"sfdisk": 1})), \
            pytest.raises(StorageError, match=r"partition /dev/vdb: sfdisk /dev/vdb failed \(exit 1\): sfdisk: failed"):
        run(["sfdisk", "/dev/vdb"], "partition /dev/vdb", stdin="label: gpt\n")


def test_a_storage_tool_that_hangs_is_a_timeout_naming_it():
    with runner.replaced(FakeRunner({"partx": runner.TimeoutExpired(["partx"], 30)})), \
            pytest.raises(StorageError, match=r"partx -a /dev/vdb did not finish in 30 s"):
        run(["partx", "-a", "/dev/vdb"], "add partitions", timeout=30)


def hook_context(tmp_path, cfg):
    return HookContext(cfg=cfg, target=str(tmp_path), state={}, log=logging.getLogger("test"),
                       in_target=lambda argv, stdin: pytest.fail("nothing runs in the target"))


def test_swap_file_is_made_with_mkswap_on_the_file_inside_the_target(tmp_path):
    (tmp_path / "boot").symlink_to("/elsewhere")  # resolved inside the target
    with runner.replaced(FakeRunner({"findmnt": "FSTYPE\next4\n"})) as fake:
        done = swap.setup_swap(hook_context(tmp_path, {"swap": {"size": "4M", "filename": "/boot/s.img"}}), None)
    made = str(tmp_path / "elsewhere" / "s.img")
    assert fake.calls == [("findmnt", "--noheadings", "--target", os.path.dirname(made), "-o", "FSTYPE"),
                          ("mkswap", made)]
    assert os.path.getsize(made) == 4 << 20 and done == ["/boot/s.img (4 MiB)"]


def test_swap_fails_the_step_when_mkswap_fails_or_is_missing(tmp_path):
    cfg = {"swap": {"size": "4M"}}
    with runner.replaced(FakeRunner({"mkswap": 1, "findmnt": "ext4"})), \
            pytest.raises(StepFailed, match="swap: mkswap /swap.img failed"):
        swap.setup_swap(hook_context(tmp_path, cfg), None)
    assert not (tmp_path / "swap.img").exists()  # no half-made swap file is left for fstab to name
    with runner.replaced(FakeRunner({"findmnt": "ext4"}, missing=["mkswap"])), \
            pytest.raises(ProgramNotStarted, match="cannot run mkswap"):
        swap.setup_swap(hook_context(tmp_path, cfg), None)
