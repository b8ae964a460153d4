"""The environment stage commands and image hooks get: absolute paths, and no site-packages of ours."""

from __future__ import annotations

import json
import os

import pytest
import yaml

import cloudinit_maaslike
from cloudinit_maaslike.install.environment import command_environment, write_curtin_command
from cloudinit_maaslike.install.prepare import prepare, validated_config
from cloudinit_maaslike.install.workdir import WorkDir

PATH_VARIABLES = ("WORKING_DIR", "OUTPUT_FSTAB", "OUTPUT_INTERFACES", "OUTPUT_NETWORK_CONFIG",
                  "OUTPUT_NETWORK_STATE", "OUTPUT_STORAGE_CONFIG", "TARGET_MOUNT_POINT", "CONFIG",
                  "MAASLIKE_WORKDIR")
OUR_PACKAGE = os.path.dirname(os.path.abspath(cloudinit_maaslike.__file__))
# where this interpreter found our dependencies: a venv's site-packages, or dist-packages
DEPENDENCIES = os.path.dirname(os.path.dirname(os.path.abspath(yaml.__file__)))


@pytest.fixture
def relative_install(tmp_path, monkeypatch):
    """An install prepared as `maaslike install --workdir work -t target` does, from tmp_path."""
    monkeypatch.chdir(tmp_path)
    cfg = {"install": {"log_file": str(tmp_path / "install.log")}}
    config, work = prepare(validated_config([cfg]), target="target", base="work")
    write_curtin_command(work)
    return config, work


def python_path(env):
    return env["PYTHONPATH"].split(os.pathsep)


def test_every_path_is_absolute_with_a_relative_workdir(relative_install, tmp_path):
    config, work = relative_install
    env = command_environment(config, work, "cmd-install/stage-late/x", base={"PATH": "/bin"})
    for name in PATH_VARIABLES:
        assert os.path.isabs(env[name]), (name, env[name])
        assert env[name].startswith(str(tmp_path) + os.sep), (name, env[name])
    assert env["TARGET_MOUNT_POINT"] == str(tmp_path / "target")
    assert os.path.dirname(env["MAASLIKE_WORKDIR"]) == str(tmp_path / "work")
    assert all(os.path.isabs(entry) for entry in python_path(env) + env["PATH"].split(os.pathsep))


def test_a_workdir_named_relatively_later_is_absolute_too(tmp_path, monkeypatch):
    """The cloud-init modules and the `curtin` command rebuild the WorkDir from stored paths."""
    monkeypatch.chdir(tmp_path)
    work = WorkDir("w/top", "t")
    assert (work.top, work.target) == (str(tmp_path / "w/top"), str(tmp_path / "t"))
    assert os.path.isabs(work.config_file) and os.path.isabs(work.python)


def test_python_path_is_the_payload_then_our_package_alone_then_the_callers(relative_install):
    config, work = relative_install
    env = command_environment(config, work, "s", python_paths=[work.payload],
                              base={"PYTHONPATH": "/caller/one:/caller/two"})
    assert python_path(env) == [work.payload, work.python, "/caller/one", "/caller/two"]
    assert os.listdir(work.python) == ["cloudinit_maaslike"]
    assert os.path.realpath(os.path.join(work.python, "cloudinit_maaslike")) == os.path.realpath(OUR_PACKAGE)
    # neither the directory we are installed in nor the one holding our dependencies
    assert os.path.dirname(OUR_PACKAGE) not in python_path(env)
    assert DEPENDENCIES not in python_path(env)


def test_the_callers_own_python_path_is_kept_even_when_it_holds_our_dependencies(relative_install):
    config, work = relative_install
    env = command_environment(config, work, "s", python_paths=[work.payload],
                              base={"PYTHONPATH": DEPENDENCIES})
    assert python_path(env) == [work.payload, work.python, DEPENDENCIES]


def test_the_package_link_follows_the_package_and_the_curtin_command_imports_through_it(relative_install):
    _, work = relative_install
    link = os.path.join(work.python, "cloudinit_maaslike")
    os.unlink(link)
    os.symlink("/somewhere/else", link)  # a working directory made by another copy of the package
    command = write_curtin_command(work)
    assert os.readlink(link) == OUR_PACKAGE and os.listdir(work.python) == ["cloudinit_maaslike"]
    with open(command, encoding="utf-8") as handle:
        script = handle.read()
    assert f"sys.path.insert(0, {json.dumps(work.python)})" in script and "curtincmd import main" in script
