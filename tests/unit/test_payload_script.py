"""The pack script's header and marker: bash quoting read without running bash."""

import re

import pytest

from cloudinit_maaslike.payload import NotAPayload, PayloadError
from cloudinit_maaslike.payload.script import decode_body, split_script
from cloudinit_maaslike.payload.shellwords import read_assignments
from tests.fixtures.payload.curtin_format import curtin_pack, print_var


def header(text):
    scalars, arrays, _ = read_assignments(text, last="PAYLOAD_MARKER")
    return scalars, arrays


@pytest.mark.parametrize("word", [
    "it's",
    "'",
    "''",
    "a 'quoted' word",
    'double "quotes" and \\ backslash',
    "$HOME and `date` stay literal",
    "line one\nline two",
    "tab\tand trailing space ",
    "(parens) ;semicolon| & <>",
    "#not a comment",
    "",
    "ünïcode ✓",
])
def test_print_vars_quoting_round_trips(word):
    """Every value curtin's print_vars can write reads back exactly."""
    scalars, arrays = header(print_var("LABEL", word) + "\n" + print_var("COMMAND", ["curtin", word]) + "\n")
    assert scalars["LABEL"] == word
    assert arrays["COMMAND"] == ("curtin", word)


def test_bash_quoting_forms():
    text = (
        "A=plain\n"
        "B=\"double $'no' \\$ \\\" \\\\ \\x\"\n".replace("$'no'", "'no'")
        + "C=back\\ slash\\'s\n"
        + "D='multi\nline'\n"
        + "E=con'cat'\"enated\"\n"
        + "F= \n"
        + "G=( 'one'\n  \"two\" three # a comment\n  )\n"
        + "H=1 I=2; J=3\n"
        + "K=con\\\ntinued L=\"dq\\\nline\" \\\n M='after a continuation'\n"
    )
    scalars, arrays = header(text)
    assert scalars["A"] == "plain"
    assert scalars["B"] == "double 'no' $ \" \\ \\x"
    assert scalars["C"] == "back slash's"
    assert scalars["D"] == "multi\nline"
    assert scalars["E"] == "concatenated"
    assert scalars["F"] == ""
    assert arrays["G"] == ("one", "two", "three")
    assert (scalars["H"], scalars["I"], scalars["J"]) == ("1", "2", "3")
    assert (scalars["K"], scalars["L"], scalars["M"]) == ("continued", "dqline", "after a continuation")


def test_later_assignment_wins_like_bash():
    scalars, arrays = header("X='a'\nX=( 'b' 'c' )\nY=( 'd' )\nY='e'\n")
    assert arrays["X"] == ("b", "c") and "X" not in scalars
    assert scalars["Y"] == "e" and "Y" not in arrays


def test_header_stops_at_payload_marker_and_at_code():
    scalars, _ = header("A='1'\nPAYLOAD_MARKER='_____PAYLOAD_____'\nVERBOSITY=0\n")
    assert "VERBOSITY" not in scalars
    scalars, _ = header("A='1'\nmain() { echo \"$@\"; }\nB='2'\n")
    assert scalars == {"A": "1"}
    scalars, _ = header("A='1'\nB=2 command --flag\nC=3\n")
    assert scalars == {"A": "1"}  # an environment for a command is not a header variable
    for code in (">/dev/null echo", "<<EOF", "$x=1", "\"$x\"", "|| exit", "`id`"):
        scalars, _ = header(f"A='1'\n{code}\nB='2'\n")
        assert scalars == {"A": "1"}, code


@pytest.mark.parametrize("text,problem", [
    ("A='never closed\n", "single quote is never closed"),
    ('A="never closed\n', "double quote is never closed"),
    ("A=$HOME\n", "shell expansion '$'"),
    ('A="x$(id)"\n', "shell expansion '$'"),
    ("A=`id`\n", "shell expansion '`'"),
    ("A=x>y\n", "shell operator '>'"),
    ("A=( 'a' ; 'b' )\n", "array A=( … ) holds ';'"),
    ("A=( 'a' ( 'b' )\n", "array A=( … ) holds '('"),
    ("A=( 'a'\n", "array A=( … ) is never closed"),
    ("A=x\\", "backslash at the end"),
])
def test_unreadable_assignments_are_refused_with_their_line(text, problem):
    with pytest.raises(PayloadError, match=re.escape(problem)) as caught:
        header("# first line\n" + text)
    assert "header line 2" in str(caught.value)


def test_a_single_word_command_may_be_a_scalar():
    """print_vars writes a one-element array as ``COMMAND='curtin'``."""
    script = split_script(b"#!/bin/bash\nMD5SUM='x'\nCOMMAND='curtin'\n_____PAYLOAD_____\nAAAA\n")
    assert script.command == ("curtin",)


@pytest.mark.parametrize("head,problem", [
    (b"MD5SUM='x'\n", "sets no COMMAND"),
    (b"COMMAND=''\n", "COMMAND is empty"),
    (b"COMMAND=( )\n", "COMMAND is empty"),
    (b"COMMAND=( '\xff' )\n", "COMMAND is not UTF-8"),
])
def test_command_must_be_present_and_readable(head, problem):
    with pytest.raises(PayloadError, match=problem):
        split_script(b"#!/bin/bash\n" + head + b"_____PAYLOAD_____\nAAAA\n")


def test_a_different_payload_marker_is_refused():
    """The script's own extractor would split at its marker, not ours."""
    with pytest.raises(PayloadError, match="header line 3: PAYLOAD_MARKER is not _____PAYLOAD_____"):
        split_script(b"#!/bin/bash\nCOMMAND=( 'curtin' )\nPAYLOAD_MARKER='OTHER'\n_____PAYLOAD_____\nAAAA\n")


def test_split_is_at_the_first_exact_marker_line():
    data = curtin_pack()
    script = split_script(data)
    assert script.header["PAYLOAD_MARKER"] == "_____PAYLOAD_____"
    assert list(script.header)[:4] == ["MD5SUM", "PREFIX", "LABEL", "COMMAND"]
    lines = data.split(b"\n")
    assert lines[script.body_line - 2] == b"_____PAYLOAD_____"
    assert script.body.split(b"\n")[1] == lines[script.body_line - 1]


@pytest.mark.parametrize("data", [
    b"#cloud-config\na: 1\n",
    b"#!/bin/sh\necho hello\n",
    b"#!/bin/sh\necho _____PAYLOAD_____\n",  # not on a line of its own
    b"echo x\n_____PAYLOAD_____\nAAAA\n",  # not a script
])
def test_not_a_pack_script(data):
    with pytest.raises(NotAPayload):
        split_script(data)


def test_crlf_marker_line_is_tolerated():
    script = split_script(b"#!/bin/bash\r\nCOMMAND=( 'curtin' )\n_____PAYLOAD_____\r\nQUJD\r\n")
    assert decode_body(script.body, script.body_line) == b"ABC"


@pytest.mark.parametrize("body,problem", [
    (b"\n", "nothing after the _____PAYLOAD_____ line"),
    (b"\nQUJD\nQU*D\n", "line 2 after the _____PAYLOAD_____ line is not base64"),
    (b"\nQUJD\nexit 0\n", "line 2 after"),
    (b"\nQQ==\nQUJD\n", "line 2 after"),  # data after the padding
    (b"\nQUJDR\n", "truncated"),
])
def test_bad_base64_names_the_line(body, problem):
    with pytest.raises(PayloadError, match=problem):
        decode_body(body, first_line=1)
