"""Style, types and spelling are tests: a red linter fails the build."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([os.path.join(BIN, name), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.allow_subprocess
def test_ruff():
    done = tool("ruff", "check", "--output-format", "concise", ".")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.allow_subprocess
def test_mypy_strict_on_the_core():
    done = tool("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.allow_subprocess
def test_codespell():
    done = tool("codespell", "cloudinit_maaslike", "tests", "shims", "config", "bench", "README.rst")
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_adapters_import_cloudinit():
    """DESIGN.md: core, parts and server stay usable without cloud-init."""
    adapters = {os.path.join("cloudinit_maaslike", "datasource.py")}
    offenders = []
    for folder, _, files in os.walk(os.path.join(REPO, "cloudinit_maaslike")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, REPO)
            if relative in adapters or relative.startswith(os.path.join("cloudinit_maaslike", "cc_")):
                continue
            with open(path) as handle:
                for line in handle:
                    stripped = line.strip()
                    ours = stripped.startswith(("import cloudinit_maaslike", "from cloudinit_maaslike"))
                    theirs = stripped.startswith(("import cloudinit", "from cloudinit ", "from cloudinit."))
                    if theirs and not ours:
                        offenders.append(relative)
    assert offenders == []


def test_programs_start_only_through_the_runner():
    """DESIGN.md: one seam starts programs, so tests can replace it and faults can be injected."""
    import ast

    starters = {"subprocess", "pty", "multiprocessing"}
    calls = {"system", "popen", "spawnv", "spawnvp", "spawnl", "spawnlp", "execv", "execvp", "execve",
             "execl", "execlp", "fork", "forkpty", "posix_spawn", "posix_spawnp"}
    offenders = []
    for folder, _, files in os.walk(os.path.join(REPO, "cloudinit_maaslike")):
        for name in files:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, REPO)
            if not name.endswith(".py") or relative == os.path.join("cloudinit_maaslike", "runner.py"):
                continue
            with open(path) as handle:
                tree = ast.parse(handle.read(), relative)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    offenders += [f"{relative}: import {a.name}" for a in node.names if a.name in starters]
                elif isinstance(node, ast.ImportFrom) and node.module in starters:
                    offenders.append(f"{relative}: from {node.module} import …")
                elif (isinstance(node, ast.Attribute) and node.attr in calls
                      and isinstance(node.value, ast.Name) and node.value.id == "os"):
                    offenders.append(f"{relative}:{node.lineno}: os.{node.attr}")
    assert offenders == []
