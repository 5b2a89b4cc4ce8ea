"""Byte granularity (issue 25): the byte span of each segment of a 4 KiB block and the
segments of a byte range, for the even split of ``Bounds.segs`` or the byte offsets of
``Bounds.cuts`` (``--segs 100,110``: bytes 0-99, 100-109 and 110-4095, so a write of 10
bytes at offset 100 is one whole segment).  Imports nothing from the rest of the spec:
:mod:`daxcheck.spec.state` validates ``Bounds`` with :func:`cuts_problem`.
"""

from __future__ import annotations

BLOCK_BYTES = 4096
"""Bytes in a file block or a pmem block (one 4 KiB page)."""


def cuts_problem(cuts, segs: int) -> str | None:
    """What is wrong with ``cuts`` (byte offsets inside a block where a segment ends) for
    ``segs`` segments, as a one-line message, or None: they must be ints strictly
    increasing in 1..4095 and ``segs == len(cuts) + 1``."""
    ints = all(isinstance(c, int) and not isinstance(c, bool) for c in cuts)
    if not ints or list(cuts) != sorted(set(cuts)) or not 0 < cuts[0] <= cuts[-1] < BLOCK_BYTES:
        return (
            f"bound cuts={list(cuts)!r} must be byte offsets strictly increasing in "
            f"1..{BLOCK_BYTES - 1}"
        )
    if segs != len(cuts) + 1:
        return f"bound cuts={list(cuts)!r} makes {len(cuts) + 1} segments, not segs={segs}"
    return None


def seg_spans(bounds) -> tuple:
    """The byte span ``(start, end)`` (end exclusive, inside the 4 KiB block) of each of the
    ``bounds.segs`` segments (``bounds``: a :class:`~daxcheck.spec.state.Bounds`): at its
    ``cuts``, else an even split."""
    if bounds.cuts:
        edges = (0, *bounds.cuts, BLOCK_BYTES)
    else:
        edges = tuple(range(0, BLOCK_BYTES + 1, BLOCK_BYTES // bounds.segs))
    return tuple(zip(edges, edges[1:]))


def byte_range(bounds, offset: int, length: int) -> tuple[int, int, int] | str:
    """The segments of the byte range ``offset``..``offset+length-1`` of a file (bytes from
    the start of the file) as ``(idx, lo, hi)``: file block ``idx`` and its segments
    ``lo``..``hi`` (the arguments of a ``write`` or ``zero_range``).  Returns a one-line
    message instead when the range is empty, crosses a block, lies past the file's
    ``bounds.blocks`` blocks or is not whole segments (naming the ``--segs`` cuts that
    would make it exact)."""
    x, start = divmod(offset, BLOCK_BYTES) if offset >= 0 else (-1, 0)
    end = start + length
    spans = seg_spans(bounds)
    starts, ends = [a for a, _ in spans], [b for _, b in spans]
    if length < 1 or not 0 <= x < bounds.blocks or end > BLOCK_BYTES:
        return f"bytes {offset}+{length} are not a range inside one of the {bounds.blocks} block(s) of a file"
    if start not in starts or end not in ends:
        cuts = sorted({*bounds.cuts, start, end} - {0, BLOCK_BYTES})
        return (
            f"bytes {offset}+{length} are not whole segments of this model (segment spans "
            f"{list(spans)}); --segs {','.join(map(str, cuts))} makes them exact"
        )
    return x, starts.index(start), ends.index(end)
