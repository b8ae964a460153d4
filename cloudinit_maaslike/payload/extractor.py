"""The bash text of a pack script: its header, and the extractor that follows it.

Our payloads are read by decoders (ours, MAAS-style tools) and, on an image
without this project, run by cloud-init as a plain script.  So the header is
curtin's layout exactly, and the extractor takes curtin's options and modes
(``-p/--prefix``, ``-v``, ``--no-execute``; ``info``, ``check``, ``dump``,
``extract``), with two deliberate differences: it is ``set -eu -o pipefail``,
and ``extract`` checks the MD5 before writing anything.
"""

from __future__ import annotations

from typing import Sequence, Tuple, Union

from .model import MARKER

HeaderValue = Union[str, Sequence[str]]


def shell_quote(value: str) -> str:
    """Single-quote for bash, ``'`` as ``'\\''`` (the form pack headers use)."""
    return "'" + value.replace("'", "'\\''") + "'"


def render_header(variables: Sequence[Tuple[str, HeaderValue]]) -> str:
    lines = ["#!/bin/bash", "# vi: ts=4 expandtab syntax=sh"]
    for name, value in variables:
        if isinstance(value, str):
            lines.append(f"{name}={shell_quote(value)}")
        else:
            words = " ".join(shell_quote(word) for word in value)
            lines.append(f"{name}=( {words} )")
    lines.append(f"PAYLOAD_MARKER={shell_quote(MARKER)}")
    return "\n".join(lines) + "\n"


def render_script(variables: Sequence[Tuple[str, HeaderValue]], archive_base64: str) -> bytes:
    """The whole script: header, extractor, marker line, base64 archive."""
    return (render_header(variables) + EXTRACTOR + MARKER + "\n" + archive_base64).encode("utf-8")


EXTRACTOR = r"""set -eu -o pipefail

VERBOSITY=0
TEMP_FILE=""

usage() {
    cat <<EOF
Usage: ${0##*/} [options] [info|check|dump|extract]

An install payload (${LABEL}) made by cloudinit-maaslike ${MAASLIKE_VERSION}.

Options:
  -p, --prefix DIR   extract into DIR (default: ${PREFIX}); it must not exist yet
  -v, --verbose      say more on stderr
      --no-execute   extract only; do not run the bundled command
  -h, --help         show this help

Modes:
  info      print the header: label, prefix, command, creation time, MD5
  check     compare the archive with the header's MD5
  dump      write the archive (a tar.gz) to standard output
  extract   check, extract into the prefix, then run the command (default)
EOF
}

say() { printf '%s\n' "$*" >&2; }
fail() { say "${0##*/}: $*"; exit 1; }
usage_error() { usage >&2; say "${0##*/}: $*"; exit 2; }
debug() { if [ "$VERBOSITY" -ge "$1" ]; then shift; say "$*"; fi; }
cleanup() { if [ -n "$TEMP_FILE" ]; then rm -f -- "$TEMP_FILE"; TEMP_FILE=""; fi; }
trap cleanup EXIT

# quote VAR VALUE: VAR becomes VALUE in single quotes, as in the header
quote() { printf -v "$1" "'%s'" "${2//\'/\'\\\'\'}"; }

show_info() {
    local name text word line
    for name in LABEL PREFIX COMMAND CREATE_TIME MD5SUM MAASLIKE_VERSION; do
        if [ "$name" = COMMAND ]; then
            line="COMMAND=("
            for word in "${COMMAND[@]}"; do
                quote text "$word"
                line="$line $text"
            done
            printf '%s )\n' "$line"
        else
            quote text "${!name}"
            printf '%s=%s\n' "$name" "$text"
        fi
    done
}

# The archive is every line after the first line that is exactly the marker.
archive_bytes() { sed -e "1,/^${PAYLOAD_MARKER}\$/d" "$0" | base64 --decode; }

save_archive() {
    TEMP_FILE=$(mktemp "${TMPDIR:-/tmp}/maaslike-payload.XXXXXX")
    archive_bytes >"$TEMP_FILE" || fail "the base64 after the ${PAYLOAD_MARKER} line does not decode"
}

sum_matches() {
    local found
    found=$(md5sum <"$TEMP_FILE") || return 1
    found=${found%% *}
    if [ "$found" != "$MD5SUM" ]; then
        say "${0##*/}: archive MD5 is ${found}, the header says ${MD5SUM}"
        return 1
    fi
    debug 1 "archive MD5 ${found} matches the header"
}

extract() {
    local prefix=$1 execute=$2 dir
    save_archive
    sum_matches || fail "refusing to extract a damaged archive"
    mkdir -- "$prefix" || fail "cannot create '${prefix}' (it must not exist yet)"
    if ! tar -xzf "$TEMP_FILE" -C "$prefix" --no-same-owner; then
        rm -rf -- "$prefix"
        fail "cannot extract the archive into '${prefix}'"
    fi
    cleanup
    dir=$(cd -- "$prefix" && pwd)
    if [ "${#COMMAND[@]}" -eq 0 ]; then
        say "extracted to '${dir}'; there is no command to run"
        return 0
    fi
    if ! $execute; then
        say "extracted to '${dir}'; not running the command (--no-execute)"
        return 0
    fi
    cd -- "$dir"
    if [ -n "$PYPATH" ]; then
        export PYTHONPATH="${PYPATH//_pwd_/$PWD}${PYTHONPATH:+:$PYTHONPATH}"
    fi
    if [ -n "$BINPATH" ]; then
        export PATH="${BINPATH//_pwd_/$PWD}${PATH:+:$PATH}"
    fi
    debug 1 "running: ${COMMAND[*]}"
    exec "${COMMAND[@]}"
}

main() {
    local prefix="$PREFIX" execute=true
    local -a modes=()
    while [ $# -gt 0 ]; do
        case "$1" in
            -h|--help) usage; exit 0;;
            -p|--prefix)
                [ $# -ge 2 ] || usage_error "$1 needs a directory"
                prefix=$2
                shift;;
            --prefix=*) prefix=${1#--prefix=};;
            -p?*) prefix=${1#-p};;
            -v|--verbose) VERBOSITY=$((VERBOSITY + 1));;
            --no-execute) execute=false;;
            --) shift; modes+=("$@"); break;;
            -?*) usage_error "unknown option '$1'";;
            *) modes+=("$1");;
        esac
        shift
    done
    [ "${#modes[@]}" -le 1 ] || usage_error "expected one mode, got ${#modes[@]}"
    [ -n "$prefix" ] || usage_error "the prefix is empty"
    case "${modes[0]:-extract}" in
        info) show_info;;
        check)
            save_archive
            sum_matches || exit 1
            say "archive MD5 ${MD5SUM} matches the header";;
        dump) archive_bytes;;
        extract) extract "$prefix" "$execute";;
        *) usage_error "unknown mode '${modes[0]}'";;
    esac
}

main "$@"
exit
"""
