"""How much the decoder reads: every bound in one place, each one linear to check.

User-data is untrusted and read on every boot, so decoding must end quickly,
in bounded memory, whatever the bytes: a gzip bomb, a 100 KB header line, a
path a thousand directories deep.  Past a bound the payload is refused with a
`PayloadError` that names the bound; the configs inside are read by
`config.bounded`, which has its own limits (size, depth, aliases, nodes).
"""

from __future__ import annotations

MIB = 1024 * 1024

# user-data itself, before any unwrapping
MAX_INPUT_BYTES = 512 * MIB
# bytes that gunzip may produce from one input, every layer together (gzip
# user-data, then the archive); the budget grows with the input, so a small
# input cannot hold a large bomb: max(floor, ratio x input), never past the cap
MAX_EXPANDED_BYTES = 512 * MIB
EXPANSION_FLOOR = 64 * MIB
EXPANSION_RATIO = 64
# wrappers: nesting of gzip/base64/MIME layers, and parts of one MIME message
MAX_WRAPPINGS = 4
MAX_MIME_PARTS = 1_000
MAX_MIME_BOUNDARIES = 8  # multipart containers; Python's email parser is O(lines x nesting)
# the pack script's header: what the shell lexer reads, and one line of it
MAX_HEADER_BYTES = 256 * 1024
MAX_HEADER_LINE = 64 * 1024
MAX_CONFIGS = 1_000  # --config options in COMMAND
# the archive
MAX_MEMBERS = 10_000  # was 20,000: tarfile costs ~50 us a header, and the 1 s budget holds
MAX_NAME_BYTES = 4_095  # PATH_MAX less the terminating NUL
MAX_NAMES_TOTAL = 4 * MIB  # member names and link targets together (tarfile's time grows with them)
MAX_PATH_DEPTH = 64  # directories in one member name
MAX_LINK_HOPS = 40  # the kernel's ELOOP limit, per symlink
MAX_LINK_STEPS = 200_000  # path components walked resolving all symlinks together
# how much of a damaged or oversized layer is read to decide whether it claims to be a
# payload, and how much sniffing one input may cost in all (past that: claimed, fail closed)
SNIFF_BYTES = MIB
SNIFF_TOTAL = 4 * MIB


def expansion_limit(input_bytes: int) -> int:
    """Bytes decompression may produce in all for an input of `input_bytes`."""
    return min(MAX_EXPANDED_BYTES, max(EXPANSION_FLOOR, EXPANSION_RATIO * input_bytes))


class Allowance:
    """What is left of one input's decompression budget."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.left = total
        self.sniff_left = SNIFF_TOTAL

    @classmethod
    def for_input(cls, input_bytes: int) -> Allowance:
        return cls(expansion_limit(input_bytes))

    def spend(self, size: int) -> None:
        self.left = max(self.left - size, 0)

    def sniff(self, size: int) -> bool:
        """Take `size` bytes of the sniffing budget; False once it has run out."""
        self.sniff_left -= size
        return self.sniff_left >= 0
