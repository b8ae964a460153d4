"""Read a packed ``curtin … install …`` command line the way curtin's argparse does.

Curtin takes ``-c/--config`` and ``--set`` both before and after ``install``
and merges them in command-line order; the remaining words are the sources.
This parser follows argparse's spellings (``--config=X``, ``--config X``,
``-cX``, clustered short flags, unambiguous long prefixes, ``--``) so any
command curtin accepts reads the same here, and it refuses options curtin
would refuse, because guessing at an install command is not safe.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Dict, List, Tuple

from .model import PayloadError

# option -> takes a value; per parser level, as in curtin's argparse setup
_MAIN_OPTIONS: Dict[str, bool] = {
    "--config": True, "--set": True, "--log-file": True,
    "--install-deps": False, "--showtrace": False, "--verbose": False, "--help": False,
}
_MAIN_SHORT = {"-c": "--config", "-v": "--verbose", "-h": "--help"}
_INSTALL_OPTIONS: Dict[str, bool] = {"--config": True, "--set": True, "--help": False}
_INSTALL_SHORT = {"-c": "--config", "-h": "--help"}


@dataclass(frozen=True)
class InstallCommand:
    options: Tuple[Tuple[str, str], ...]  # ("config", path) / ("set", "k=v"), in order
    sources: Tuple[str, ...]

    @property
    def sets(self) -> Tuple[str, ...]:
        return tuple(value for kind, value in self.options if kind == "set")


def parse_install_command(argv: Tuple[str, ...]) -> InstallCommand:
    """The configs, ``--set`` values and sources of a packed curtin install command."""
    if not argv or posixpath.basename(argv[0]) != "curtin":
        first = argv[0] if argv else ""
        raise PayloadError(f"COMMAND does not run curtin (it runs {first!r})")
    options: List[Tuple[str, str]] = []
    rest = _take_options(list(argv[1:]), _MAIN_OPTIONS, _MAIN_SHORT, options, stop_at_word=True)
    if not rest or rest[0] != "install":
        what = repr(rest[0]) if rest else "nothing"
        raise PayloadError(f"COMMAND runs curtin {what}, not curtin install")
    sources = _take_options(rest[1:], _INSTALL_OPTIONS, _INSTALL_SHORT, options, stop_at_word=False)
    return InstallCommand(options=tuple(options), sources=tuple(sources))


def _take_options(
    words: List[str],
    table: Dict[str, bool],
    short: Dict[str, str],
    options: List[Tuple[str, str]],
    stop_at_word: bool,
) -> List[str]:
    """Consume options into `options`; return the positional words."""
    positional: List[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            positional.extend(words[index:])
            break
        if word.startswith("--"):
            name, has_value, value = word.partition("=")
            option = _long_option(name, table)
            if table[option]:
                if not has_value:
                    value, index = _value_of(option, words, index)
                _record(option, value, options)
            elif has_value:
                raise PayloadError(f"COMMAND option {option} takes no value")
            else:
                _record(option, "", options)
        elif word.startswith("-") and word != "-":
            index = _short_cluster(word, words, index, table, short, options)
        else:
            positional.append(word)
            if stop_at_word:
                positional.extend(words[index:])
                break
    return positional


def _short_cluster(
    word: str,
    words: List[str],
    index: int,
    table: Dict[str, bool],
    short: Dict[str, str],
    options: List[Tuple[str, str]],
) -> int:
    """``-vv``, ``-cFILE``, ``-vc FILE``: argparse's clustered short options."""
    position = 1
    while position < len(word):
        option = short.get("-" + word[position])
        if option is None:
            raise PayloadError(f"COMMAND has option -{word[position]}, which curtin does not accept there")
        position += 1
        if table[option]:
            value = word[position:]
            if value.startswith("="):
                value = value[1:]
            if not value:
                value, index = _value_of(option, words, index)
            _record(option, value, options)
            return index
        _record(option, "", options)
    return index


def _long_option(name: str, table: Dict[str, bool]) -> str:
    if name in table:
        return name
    matches = [option for option in table if option.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise PayloadError(f"COMMAND option {name} is ambiguous ({', '.join(sorted(matches))})")
    raise PayloadError(f"COMMAND has option {name}, which curtin does not accept there")


def _value_of(option: str, words: List[str], index: int) -> Tuple[str, int]:
    if index >= len(words) or (words[index].startswith("-") and words[index] != "-"):
        raise PayloadError(f"COMMAND option {option} has no value")
    return words[index], index + 1


def _record(option: str, value: str, options: List[Tuple[str, str]]) -> None:
    if option == "--help":
        raise PayloadError("COMMAND asks curtin for --help, not an install")
    if option == "--config":
        options.append(("config", value))
    elif option == "--set":
        options.append(("set", value))

