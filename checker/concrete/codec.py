"""The self-describing byte patterns of the concrete replay and their decoder.

Token ``t`` written at (file ``f``, block ``x``, segment ``g``) fills each 64-byte line of
the segment with a record such as ``DAXCHECK t=1 file=a blk=0 seg=1 ln=07 op=003 by=write``;
token 0 is zeros; the media starts with ``STALE-PMEM pblk=p ln=..`` records (contents from
before mkfs).  :class:`Codec` writes and reads them, :class:`LineInfo` is one decoded line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daxcheck.spec.state import SEGS, STALE, file_name, token_name

from .pmem import BLOCK, LINE

SEG_BYTES = BLOCK // SEGS
"""Bytes per segment at the default two segments per block (2048); a model with
``Bounds.segs`` set uses ``BLOCK // segs`` (:attr:`~.executor.ConcreteExecutor.seg_bytes`)."""
LINES_PER_SEG = SEG_BYTES // LINE
"""Cache lines per segment (32)."""


# ============================================================================ patterns
@dataclass(frozen=True)
class LineInfo:
    """What one 64-byte line holds: ``kind`` "zero", "data", "stale" or "garbled";
    ``token`` the abstract token (0, 1..T, STALE; None for garbled); for data the writer's
    ``file``, ``blk``, ``seg``, ``step`` and ``via`` (write/store); for stale the ``pblk``."""

    kind: str
    token: int | None
    file: int = -1
    blk: int = -1
    seg: int = -1
    step: int = -1
    via: str = ""
    pblk: int = -1

    def describe(self) -> str:
        """English for what a reader gets from this line."""
        if self.kind == "zero":
            return "zeros"
        if self.kind == "stale":
            return "stale pmem contents (no file wrote them)"
        if self.kind == "garbled":
            return "bytes no writer produced"
        return (
            f"{token_name(self.token)} (file {file_name(self.file)}'s data, written at "
            f"{file_name(self.file)} block {self.blk} by {self.via} at step {self.step})"
        )


_DATA_RE = re.compile(
    rb"DAXCHECK t=(\d+) file=([abc]) blk=(\d+) seg=(\d+) ln=(\d+) "
    rb"op=(\d+) by=(\w+) *\n"
)
_STALE_RE = re.compile(rb"STALE-PMEM pblk=(\d+) ln=(\d+) \(contents from before mkfs\) *\n")
_ZERO_LINE = bytes(LINE)
_GARBLED = LineInfo("garbled", None)


class Codec:
    """The byte patterns of tokens and their decoding (the abstraction function's core).
    ``seg_bytes``: bytes per segment (a multiple of the 64-byte line)."""

    def __init__(self, seg_bytes: int = SEG_BYTES):
        self.seg_bytes = seg_bytes
        self._cache: dict[bytes, LineInfo] = {_ZERO_LINE: LineInfo("zero", 0)}

    @staticmethod
    def _pad(text: str) -> bytes:
        b = text.encode()
        assert len(b) < LINE
        return b.ljust(LINE - 1) + b"\n"

    def data_segment(self, t: int, f: int, x: int, g: int, step: int, via: str) -> bytes:
        """The 2048 bytes of token ``t`` written at file ``f`` block ``x`` segment ``g`` by
        ``via`` ("write"/"store") at trace step ``step``; token 0 is zeros."""
        if t == 0:
            return bytes(self.seg_bytes)
        return b"".join(
            self._pad(
                f"DAXCHECK t={t} file={file_name(f)} blk={x} seg={g} "
                f"ln={ln:02d} op={step:03d} by={via}"
            )
            for ln in range(self.seg_bytes // LINE)
        )

    def stale_block(self, p: int) -> bytes:
        """The 4096 pre-mkfs bytes of physical block ``p``."""
        return b"".join(
            self._pad(f"STALE-PMEM pblk={p} ln={ln:02d} (contents from before mkfs)")
            for ln in range(BLOCK // LINE)
        )

    def line(self, b: bytes) -> LineInfo:
        """Decode one 64-byte line (anything unrecognised is "garbled")."""
        b = bytes(b)
        info = self._cache.get(b)
        if info is not None:
            return info
        m = _DATA_RE.fullmatch(b)
        if m:
            info = LineInfo(
                "data",
                int(m[1]),
                "abc".index(m[2].decode()),
                int(m[3]),
                int(m[4]),
                int(m[6]),
                m[7].decode(),
            )
        else:
            m = _STALE_RE.fullmatch(b)
            info = LineInfo("stale", STALE, pblk=int(m[1])) if m else _GARBLED
        if len(self._cache) < 100_000:
            self._cache[b] = info
        return info

    def lines(self, b: bytes) -> list[LineInfo]:
        """Decode consecutive 64-byte lines."""
        return [self.line(b[i : i + LINE]) for i in range(0, len(b), LINE)]

    def segment_token(self, b: bytes):
        """The token of a 2048-byte segment if all its lines decode to the same token, else
        None (torn or garbled)."""
        toks = {i.token for i in self.lines(b)}
        return toks.pop() if len(toks) == 1 else None

    def summarize(self, b: bytes) -> str:
        """Short English for a block's (or segment's) contents, per segment."""
        parts = []
        for g in range(0, len(b), self.seg_bytes):
            infos = self.lines(b[g : g + self.seg_bytes])
            kinds = {(i.kind, i.token, i.file) for i in infos}
            parts.append(infos[0].describe() if len(kinds) == 1 else "a torn mix of writes")
        if len(set(parts)) == 1:
            return parts[0]
        return "; ".join(f"segment {g}: {p}" for g, p in enumerate(parts))


def hex_excerpt(b: bytes, n: int = 16) -> str:
    """``n`` bytes as hex plus printable ASCII, e.g. ``44 41 58 |DAX|``."""
    b = bytes(b[:n])
    txt = "".join(chr(c) if 32 <= c < 127 else "." for c in b)
    return f"{b.hex(' ')} |{txt}|"
