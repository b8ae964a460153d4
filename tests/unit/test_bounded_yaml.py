"""The bounded YAML/JSON reader: every limit, its one-line error, and linear time.

The deep-nesting and alias-bomb cases also run in a child process under a
memory limit and a timeout: before the reader existed they crashed the
interpreter (PyYAML's C loader segfaults on 50,000 nested ``[``) or ran for
half an hour, and a regression must fail a test, not take pytest down.
"""

import json
import os
import re
import resource
import subprocess
import sys
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudinit_maaslike.config.bounded import (
    DEFAULT_LIMITS,
    DocumentError,
    DocumentLimitError,
    Limits,
    NodeBudget,
    load_json,
    load_yaml,
    load_yaml_mapping,
    measure_yaml,
)
from cloudinit_maaslike.config.load import load_config_file, parse_config_text
from cloudinit_maaslike.config.merge import apply_set
from cloudinit_maaslike.errors import ConfigError, MaaslikeError
from cloudinit_maaslike.preseed import parse_preseed
from tests.fixtures.payload.hostile import ALIAS_BOMB, nested_flow

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD_MEMORY = 1024 ** 3  # RLIMIT_AS of the child: far above what a bounded read needs
CHILD_TIMEOUT = 60


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


# --- what still loads --------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "", "# nothing\n", "a: 1\n", "a: [1, 2, {b: c}]\nd: !!binary aGk=\n",
    "base: &b {x: 1, y: [1, 2]}\nuse: {<<: *b, z: 3}\nagain: *b\n",
    "when: 2001-12-14t21:59:43.10-05:00\nsexagesimal: 190:20:30\nbig: 123456789012345678901234567890\n",
    "- a\n- b\n", "key: value with 'quotes' and \"more\"\nbool: yes\nnull: ~\n",
])
def test_ordinary_documents_read_as_safe_load_reads_them(text):
    assert load_yaml(text, "x.cfg") == yaml.safe_load(text)


def test_bytes_and_text_both_read():
    assert load_yaml(b"#cloud-config\na: 1\n", "u") == {"a": 1}
    assert load_json(b'{"a": [1, 2]}', "u") == {"a": [1, 2]}


def test_a_document_right_at_the_limits_loads():
    limits = Limits(max_depth=3, max_nodes=9, max_aliases=1, max_bytes=100)
    assert load_yaml("a: [[x]]\nb: &z y\nc: *z\n", "x", limits) is not None  # 3 deep, 9 nodes, 1 alias


# --- each limit ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "a: " + "[" * 101 + "]" * 101,
    "a: " + "{b: " * 101 + "c" + "}" * 101,
    "".join("  " * level + "- \n" for level in range(101)) + "  " * 101 + "x\n",
    "- " * 150 + "x\n",
    nested_flow(50_000),
])
def test_nesting_deeper_than_the_limit_is_refused_before_any_loader(text):
    with pytest.raises(DocumentLimitError) as caught:
        load_yaml(text, "configs/c.cfg")
    assert caught.value.limit == "max_depth"
    assert re.match(r"configs/c\.cfg: line \d+: nesting deeper than 100 levels \(limit: max_depth\)$",
                    one_line(caught.value))


def test_exactly_the_depth_limit_is_fine():
    assert load_yaml("[" * 100 + "]" * 100, "x") is not None


def test_alias_bomb_is_refused_fast():
    started = time.perf_counter()
    with pytest.raises(DocumentLimitError) as caught:
        load_yaml(ALIAS_BOMB, "configs/c.cfg")
    assert time.perf_counter() - started < 1.0
    assert caught.value.limit == "max_nodes"
    assert "once aliases are expanded" in one_line(caught.value)


def test_alias_count_is_bounded():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 1_001) + "]\n"
    with pytest.raises(DocumentLimitError, match="more than 1000 aliases") as caught:
        load_yaml(text, "x")
    assert caught.value.limit == "max_aliases"


def test_node_count_is_bounded_without_aliases_too():
    with pytest.raises(DocumentLimitError, match=r"more than 100000 nodes \(limit: max_nodes\)"):
        load_yaml("[" + "1," * 100_000 + "1]", "x")


def test_size_is_bounded():
    with pytest.raises(DocumentLimitError, match="bytes is more than 10 .limit: max_bytes."):
        load_yaml("a: 12345678901\n", "x", Limits(max_bytes=10))


def test_sexagesimal_and_long_integers_are_bounded():
    started = time.perf_counter()
    with pytest.raises(DocumentLimitError, match="integer of more than 4300 characters"):
        load_yaml("a: 1" + ":1" * 200_000 + "\n", "x")  # quadratic to construct: minutes
    with pytest.raises(DocumentLimitError, match="max_int_chars"):
        load_yaml("a: " + "1" * 5_000 + "\n", "x")  # int() itself refuses this (ValueError)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize("text,problem", [
    ("a: &a [*a]\n", "alias \\*a refers to a node that holds it"),
    ("a: *nowhere\n", "alias \\*nowhere is undefined"),
    ("a: 1\nb: [\n", "line 3: not valid YAML"),
    ("a: !!timestamp 2001-99-99\n", "a value cannot be read"),
    ("? [a]\n: b\n", "unhashable key"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
])
def test_invalid_documents_are_one_line_document_errors(text, problem):
    with pytest.raises(DocumentError, match=problem) as caught:
        load_yaml(text, "f.cfg")
    assert not isinstance(caught.value, DocumentLimitError)
    assert isinstance(caught.value, ConfigError) and one_line(caught.value).startswith("f.cfg: ")


def test_errors_never_quote_the_document():
    with pytest.raises(DocumentError) as caught:
        load_yaml("reporting:\n  token_secret: s3cr3t: x\n", "c.cfg")
    assert "s3cr3t" not in str(caught.value)


def test_mapping_reader():
    assert load_yaml_mapping("", "x") == {}
    with pytest.raises(DocumentError, match="expected a mapping, got list"):
        load_yaml_mapping("- 1\n", "x")


def test_a_budget_is_shared_by_several_documents():
    budget = NodeBudget(10)
    load_yaml("[1, 2, 3, 4]", "one", budget=budget)  # 5 nodes
    assert budget.used == 5
    with pytest.raises(DocumentLimitError, match="with the documents before it, more than 10 nodes"):
        load_yaml("[1, 2, 3, 4, 5]", "two", budget=budget)
    with pytest.raises(DocumentLimitError, match="in all"):
        load_json("[1, 2, 3, 4, 5, 6]", "three", budget=NodeBudget(5))


def test_measure_counts_aliases_as_what_they_stand_for():
    assert measure_yaml("a: &x [1, 2]\nb: *x\n") == 1 + 2 + 3 + 3  # mapping, keys, list twice


# --- JSON ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,message", [
    ("[" * 50_000, "nesting deeper than 100 levels"),
    ("[" * 101 + "]" * 101, "nesting deeper than 100 levels"),
    ("[" + "1," * 100_000 + "1]", "more than 100000 nodes"),
    ("1" * 5_000, "invalid JSON: a value cannot be read"),
    ('{"a": ', "line 1: invalid JSON"),
])
def test_json_is_bounded(text, message):
    with pytest.raises(DocumentError, match=message) as caught:
        load_json(text, "--set x")
    assert one_line(caught.value).startswith("--set x: ")


def test_set_key_paths_and_json_values_share_the_depth_limit():
    cfg = {}
    apply_set(cfg, "a/b=json:" + "[" * 98 + "]" * 98)
    with pytest.raises(DocumentLimitError, match="max_depth"):
        apply_set(cfg, "a/b/c=json:" + "[" * 98 + "]" * 98)
    with pytest.raises(DocumentLimitError, match="max_depth"):
        apply_set(cfg, "/".join(["k"] * 101) + "=v")
    with pytest.raises(ConfigError, match="invalid JSON"):
        apply_set(cfg, "k=json:" + "9" * 5_000)  # int() digit limit: a ValueError, not a traceback


# --- every routed reader ----------------------------------------------------------------

@pytest.mark.parametrize("text", [nested_flow(50_000), ALIAS_BOMB])
def test_routed_readers_refuse_deep_and_bombs(tmp_path, text):
    with pytest.raises(DocumentLimitError):
        parse_config_text(text, "/tmp/x.cfg")
    path = tmp_path / "c.cfg"
    path.write_text(text)
    with pytest.raises(DocumentLimitError):
        load_config_file(str(path))
    with pytest.raises(DocumentLimitError):
        parse_preseed(b"#cloud-config\n" + text.encode(), "http://maas/preseed")


def test_preseed_syntax_errors_stay_preseed_errors():
    from cloudinit_maaslike.errors import PreseedError

    with pytest.raises(PreseedError, match="http://m/ is not valid YAML at line 3"):
        parse_preseed(b"#cloud-config\na: [\n", "http://m/")


# --- in a child process, under a memory limit and a timeout ----------------------------------

CHILD = """
import sys
from cloudinit_maaslike.config.bounded import DocumentError, load_yaml, load_json
from tests.fixtures.payload.hostile import ALIAS_BOMB, nested_flow
cases = {
    "flow": lambda: load_yaml(nested_flow(50_000), "c.cfg"),
    "block": lambda: load_yaml("- " * 50_000 + "x", "c.cfg"),
    "map": lambda: load_yaml("{a: " * 50_000, "c.cfg"),
    "bomb": lambda: load_yaml(ALIAS_BOMB, "c.cfg"),
    "json": lambda: load_json("[" * 50_000, "c.json"),
}
for name, case in cases.items():
    try:
        case()
        print(name, "LOADED")
    except DocumentError as exc:
        print(name, type(exc).__name__, exc)
"""


def limit_child():
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


@pytest.mark.allow_subprocess
def test_deep_nesting_and_alias_bomb_in_a_memory_limited_child():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT, preexec_fn=limit_child)
    assert done.returncode == 0, f"rc={done.returncode} (139 is a segfault)\n{done.stderr[-2000:]}"
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [[name, "DocumentLimitError"]
                                                    for name in ("flow", "block", "map", "bomb", "json")]


# --- properties: any input ends in a value or the reader's own error, quickly -------------------

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BUDGET_SECONDS = 2.0
YAML_CHARS = "[]{}:,-&*!|>?'\"#%@` \n\tab01._<="


def bounded(read, text, limits=DEFAULT_LIMITS):
    started = time.perf_counter()
    try:
        read(text, "p", limits)
    except DocumentError as exc:
        one_line(exc)
    assert time.perf_counter() - started < BUDGET_SECONDS


@FAST
@given(st.text(alphabet=YAML_CHARS, max_size=3_000))
def test_any_yaml_like_text(text):
    bounded(load_yaml, text)


@FAST
@given(st.binary(max_size=2_000))
def test_any_bytes_as_yaml(data):
    bounded(load_yaml, data)


@st.composite
def aliased_documents(draw):
    """Nested lists and maps with anchors and aliases to earlier nodes, as YAML text."""
    anchors = []

    def node(depth):
        kind = draw(st.sampled_from(["scalar", "alias", "seq", "map"] if depth < 6 else ["scalar", "alias"]))
        if kind == "alias" and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if kind in ("scalar", "alias"):
            return draw(st.sampled_from(["1", "x", "'q'", "1:2:3", "~", "2001-01-01"]))
        children = [node(depth + 1) for _ in range(draw(st.integers(0, 6)))]
        text = ("[" + ", ".join(children) + "]") if kind == "seq" else (
            "{" + ", ".join(f"k{i}: {child}" for i, child in enumerate(children)) + "}")
        if draw(st.booleans()):
            name = f"a{len(anchors)}"
            anchors.append(name)
            return f"&{name} {text}"
        return text

    return "\n".join(f"top{i}: {node(0)}" for i in range(draw(st.integers(1, 8)))) + "\n"


@FAST
@given(aliased_documents(), st.integers(1, 50), st.integers(5, 5_000))
def test_aliased_documents_within_small_limits(text, depth, nodes):
    limits = Limits(max_depth=depth, max_nodes=nodes, max_aliases=20)
    bounded(load_yaml, text, limits)
    try:
        loaded = load_yaml(text, "p", limits)
    except DocumentError:
        return
    json.dumps(loaded, default=str)  # whatever loads expands within the node limit: walking it is cheap


@FAST
@given(st.text(alphabet='[]{}:,"0123456789eE.-+ \ntrufalsn\\', max_size=3_000))
def test_any_json_like_text(text):
    bounded(load_json, text)


def test_limit_errors_are_maaslike_errors():
    assert issubclass(DocumentLimitError, MaaslikeError) and DocumentLimitError.exit_code == 2
