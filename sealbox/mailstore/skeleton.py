"""A big message's skeleton: its bytes with long base64 runs cut out, for parsing in little memory.

The email package holds a message several times over while it parses it (the
raw bytes, its lines, each part's payload, the decoded payload): some 300 MB
for a 48 MB message. Nearly all of a big message is base64 (attachments), and a
line of base64 can never be a MIME boundary (no "--"), a header (no ":", no
leading space) or a blank line. So a run of such lines can be replaced by one
line of the same alphabet, a token naming where the run lies in the message,
without changing anything the parser decides: the skeleton parses to the same
tree of parts, each with the same headers, whose payloads hold tokens instead
of the runs. Positions in the skeleton map back to the message (to_original),
so each part's payload is a byte range of the stored message that can be read
and decoded in chunks when it is needed.

Lines are split on LF, as read; only complete lines are cut, and the token line
keeps the line ending of the run's last line (the parser gives that line ending
to the boundary that follows a part).
"""

from __future__ import annotations

import bisect
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, field

# Runs shorter than this stay in the skeleton: not worth a token.
MIN_RUN = 16 * 1024
_SAFE_RUN = re.compile(rb"(?m)^(?:[A-Za-z0-9+/=]+\r?\n)+")
_TOKEN_DIGITS = 10
_LONG_LINE = 1024 * 1024


@dataclass(frozen=True)
class Cut:
    at: int  # where the token starts in the skeleton
    start: int  # the run in the message: [start, end), without its last line ending
    end: int
    token_length: int


@dataclass
class Skeleton:
    data: bytes
    size: int  # of the message
    nonce: bytes
    cuts: list[Cut] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ats = [c.at for c in self.cuts]
        self._token = re.compile(re.escape(self.nonce) + rb"(\d{%d})" % _TOKEN_DIGITS)

    def to_original(self, pos: int) -> int | None:
        """The message offset of a skeleton offset; None inside a token (no such place)."""
        i = bisect.bisect_right(self._ats, pos) - 1
        if i < 0:
            return pos
        cut = self.cuts[i]
        if pos == cut.at:
            return cut.start
        after = cut.at + cut.token_length
        if pos < after:
            return None
        return cut.end + (pos - after)

    def has_cuts(self, start: int, end: int) -> bool:
        """Whether skeleton bytes [start, end) hold a token."""
        i = bisect.bisect_left(self._ats, start)
        return i < len(self._ats) and self._ats[i] < end

    def segments(self, data: bytes) -> list[bytes | tuple[int, int]]:
        """Bytes made from skeleton text (a forwarded message as saved): literal
        pieces, and each token as the range of the message it stands for."""
        out: list[bytes | tuple[int, int]] = []
        pos = 0
        for m in self._token.finditer(data) if self.cuts else ():
            index = int(m[1])
            if index >= len(self.cuts):
                continue
            if m.start() > pos:
                out.append(data[pos : m.start()])
            cut = self.cuts[index]
            out.append((cut.start, cut.end))
            pos = m.end()
        if pos < len(data):
            out.append(data[pos:])
        return out


class _Builder:
    def __init__(self, min_run: int) -> None:
        self.min_run = min_run
        alphabet = string.ascii_letters + string.digits
        self.nonce = ("".join(secrets.choice(alphabet) for _ in range(24))).encode()
        self.out = bytearray()
        self.cuts: list[Cut] = []
        self.base = 0  # message offset of carry[0]
        self.carry = b""
        self.run_start = -1
        self.run_end = -1
        self.run_eol = b""
        self.run_bytes: bytearray | None = None  # kept while the run may still be too short
        self.mid_line = False  # carry was flushed: the next bytes continue a line

    def feed(self, chunk: bytes) -> None:
        data = self.carry + chunk if self.carry else chunk
        cut = data.rfind(b"\n") + 1
        complete, self.carry = data[:cut], data[cut:]
        base = self.base
        self.base += cut
        pos = 0
        if self.mid_line and complete:  # the end of a long line flushed before: not a run
            self._end_run()
            pos = complete.find(b"\n") + 1
            self.out += complete[:pos]
            self.mid_line = False
        if len(self.carry) > _LONG_LINE:  # no line end for a while: keep it as it is
            self._end_run()
            self.out += complete[pos:]
            self._flush_carry()
            return
        for m in _SAFE_RUN.finditer(complete, pos):
            s, e = m.span()
            if s > pos or self.run_end != base + s:
                self._end_run()
                self.out += complete[pos:s]
                self.run_start = self.run_end = base + s
                self.run_bytes = bytearray()
            self._grow(complete[s:e], base + e)
            pos = e
        if pos < len(complete):
            self._end_run()
            self.out += complete[pos:]

    def _flush_carry(self) -> None:
        self.out += self.carry
        self.base += len(self.carry)
        self.carry = b""
        self.mid_line = True

    def _grow(self, lines: bytes, end: int) -> None:
        self.run_end = end
        self.run_eol = b"\r\n" if lines.endswith(b"\r\n") else b"\n"
        if self.run_bytes is not None:
            self.run_bytes += lines
            if len(self.run_bytes) >= self.min_run:
                self.run_bytes = None  # long enough: it will be cut

    def _end_run(self) -> None:
        if self.run_start < 0:
            return
        if self.run_bytes is not None:
            self.out += self.run_bytes
        else:
            token = self.nonce + b"%0*d" % (_TOKEN_DIGITS, len(self.cuts))
            end = self.run_end - len(self.run_eol)
            self.cuts.append(Cut(len(self.out), self.run_start, end, len(token)))
            self.out += token + self.run_eol
        self.run_start = self.run_end = -1
        self.run_bytes = None

    def finish(self) -> Skeleton:
        self._end_run()
        self.out += self.carry
        size = self.base + len(self.carry)
        return Skeleton(bytes(self.out), size, self.nonce, self.cuts)


def build(chunks: Iterable[bytes], min_run: int | None = None) -> Skeleton:
    """The skeleton of the message read from chunks (any sizes)."""
    builder = _Builder(MIN_RUN if min_run is None else min_run)
    for chunk in chunks:
        builder.feed(chunk)
    return builder.finish()


def whole(raw: bytes) -> Skeleton:
    """A message in memory as its own skeleton (nothing cut)."""
    return Skeleton(raw, len(raw), b"", [])
