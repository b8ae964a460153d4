"""Read the variable assignments at the top of a shell archive, never running it.

A pack script starts with ``NAME='value'`` lines and one ``COMMAND=( … )``
array.  Their values follow bash quoting (single quotes, ``'\\''``, double
quotes, backslashes, newlines inside quotes), so this is a small bash lexer
rather than a regex.  It understands only what a header needs and refuses the
rest: an expansion (``$x``, backticks) can only be known by running the
script, so it is an error, not a guess.

The lexer is lazy: `read_assignments` stops at the first statement that is
not an assignment (the extractor code), before reaching anything it cannot
read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .model import PayloadError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ASSIGNMENT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_BLANK = " \t\r"  # a CR is a blank so CRLF-mangled headers (MIME transports) still read
_WORD_END = " \t\r\n;()|&<>"
_DQ_ESCAPABLE = '$`"\\'


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "(", ")", "end" (newline or ';'), "eof"
    line: int
    text: str = ""
    name: Optional[str] = None  # for a NAME=value word: NAME (value is text after '=')
    adjacent: bool = False  # "(" with no blank before it


def _fail(line: int, problem: str) -> PayloadError:
    return PayloadError(f"header line {line}: {problem}")


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.word_start = 0

    def at_assignment(self) -> bool:
        """Whether the token being read starts like ``NAME=``."""
        return _ASSIGNMENT_START.match(self.text, self.word_start) is not None

    def tokens(self) -> Iterator[Token]:
        text, n = self.text, len(self.text)
        word_end = -1
        while self.pos < n:
            char = text[self.pos]
            self.word_start = self.pos
            if char in _BLANK:
                self.pos += 1
            elif char == "\n":
                yield Token("end", self.line, "\n")
                self.line += 1
                self.pos += 1
            elif char == ";":
                yield Token("end", self.line, ";")
                self.pos += 1
            elif char == "#":
                newline = text.find("\n", self.pos)
                self.pos = n if newline < 0 else newline
            elif text.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
            elif char in "()":
                yield Token(char, self.line, adjacent=(char == "(" and word_end == self.pos))
                self.pos += 1
            elif char in "|&<>":
                raise _fail(self.line, f"shell operator {char!r} is not a header assignment")
            else:
                yield self._word()
                word_end = self.pos
        yield Token("eof", self.line)

    def _word(self) -> Token:
        text, n = self.text, len(self.text)
        start_line = self.line
        out: List[str] = []
        name: Optional[str] = None
        plain = True  # nothing quoted or escaped so far
        while self.pos < n:
            char = text[self.pos]
            if char in _WORD_END:
                break
            if char == "'":
                close = text.find("'", self.pos + 1)
                if close < 0:
                    raise _fail(self.line, "single quote is never closed")
                chunk = text[self.pos + 1:close]
                out.append(chunk)
                self.line += chunk.count("\n")
                self.pos = close + 1
                plain = False
            elif char == '"':
                self._double_quoted(out)
                plain = False
            elif char == "\\":
                if self.pos + 1 >= n:
                    raise _fail(self.line, "backslash at the end of the header")
                following = text[self.pos + 1]
                if following == "\n":
                    self.line += 1
                else:
                    out.append(following)
                    plain = False
                self.pos += 2
            elif char in "$`":
                raise _fail(self.line, f"shell expansion {char!r} cannot be read without running it")
            else:
                if char == "=" and plain and name is None and _NAME.match("".join(out)):
                    name = "".join(out)
                out.append(char)
                self.pos += 1
        word = "".join(out)
        if name is not None:
            return Token("word", start_line, word, name=name)
        return Token("word", start_line, word)

    def _double_quoted(self, out: List[str]) -> None:
        text, n = self.text, len(self.text)
        opened = self.line
        self.pos += 1
        while self.pos < n:
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\" and self.pos + 1 < n and text[self.pos + 1] in _DQ_ESCAPABLE + "\n":
                following = text[self.pos + 1]
                if following == "\n":
                    self.line += 1
                else:
                    out.append(following)
                self.pos += 2
                continue
            if char in "$`":
                raise _fail(self.line, f"shell expansion {char!r} cannot be read without running it")
            if char == "\n":
                self.line += 1
            out.append(char)
            self.pos += 1
        raise _fail(opened, "double quote is never closed")


class _Stream:
    """One token of lookahead over the lazy lexer."""

    def __init__(self, tokens: Iterator[Token]) -> None:
        self._tokens = tokens
        self._ahead: Optional[Token] = None

    def peek(self) -> Token:
        if self._ahead is None:
            self._ahead = next(self._tokens)
        return self._ahead

    def take(self) -> Token:
        token = self.peek()
        self._ahead = None
        return token


Assignments = Tuple[Dict[str, str], Dict[str, Tuple[str, ...]], Dict[str, int]]


def read_assignments(text: str, last: Optional[str] = None) -> Assignments:
    """The leading ``NAME=value`` and ``NAME=( … )`` statements of a script.

    Returns scalars, arrays and the line each name was (last) set on.  Bash
    semantics: a later assignment replaces an earlier one.  Reading stops at
    the first other statement, or right after the statement setting `last`.
    """
    scalars: Dict[str, str] = {}
    arrays: Dict[str, Tuple[str, ...]] = {}
    lines: Dict[str, int] = {}
    lexer = _Lexer(text)
    stream = _Stream(lexer.tokens())
    while True:
        try:
            token = stream.take()
        except PayloadError:
            if lexer.at_assignment():
                raise
            break  # unreadable code after the header is not ours to read
        if token.kind == "end":
            continue
        if token.kind != "word" or token.name is None:
            break
        statement = [_assignment(token, stream)]
        while stream.peek().kind == "word" and stream.peek().name is not None:
            statement.append(_assignment(stream.take(), stream))
        if stream.peek().kind not in ("end", "eof"):
            break  # ``A=1 command``: an environment for a command, not the header
        for name, value, line in statement:
            lines[name] = line
            if isinstance(value, tuple):
                arrays[name] = value
                scalars.pop(name, None)
            else:
                scalars[name] = value
                arrays.pop(name, None)
        if last is not None and last in lines:
            break
    return scalars, arrays, lines


def _assignment(token: Token, stream: _Stream) -> Tuple[str, Union[str, Tuple[str, ...]], int]:
    assert token.name is not None
    value = token.text[len(token.name) + 1:]
    following = stream.peek()
    if value or following.kind != "(" or not following.adjacent:
        return token.name, value, token.line
    stream.take()
    items: List[str] = []
    while True:
        item = stream.take()
        if item.kind == "word":
            items.append(item.text)
        elif item.kind == ")":
            return token.name, tuple(items), token.line
        elif item.kind == "end" and item.text == "\n":
            continue  # arrays may span lines; a ';' inside one is a bash syntax error
        elif item.kind == "eof":
            raise _fail(token.line, f"array {token.name}=( … ) is never closed")
        else:
            raise _fail(item.line, f"array {token.name}=( … ) holds {item.text or item.kind!r}")

