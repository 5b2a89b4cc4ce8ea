"""What the differential oracle compares: file contents and extent maps, kernel vs spec.

After every op the contents of every file are compared byte for byte
(:func:`compare_contents`: the spec's token per 2 KiB segment expands to
:func:`~.ops.token_bytes`, cut at the kernel's byte i_size); at the end of a sequence FIEMAP
is compared with the spec's extent map (:func:`compare_maps`).  Each raises
:class:`~.ops.Mismatch` naming the file, block and what differs.
"""

from __future__ import annotations

import os

from ...spec.kernel.views import file_view
from ...spec.state import HOLE, STALE, UNWRITTEN, file_name
from .kernel import BLOCK, block_map, writeback
from .ops import SEG, Ctx, Mismatch, token_bytes


def expected_bytes(c: Ctx, f: int) -> bytes:
    """What read(2) of all of file ``f`` returns on the spec: its segments' tokens as bytes
    (:func:`token_bytes`), cut at the kernel's byte i_size ``c.nbytes[f]``.  Raises Mismatch
    when the spec exposes stale media (the kernel never does)."""
    L, s = c.L, c.s
    out = bytearray()
    for x in range(s[L.size[f]]):
        for g in L.segs:
            t = file_view(L, s, f, x, g)
            if t == STALE:
                raise Mismatch(f"spec exposes stale media in {file_name(f)} block {x} seg {g}")
            out += token_bytes(t)
    return bytes(out[: c.nbytes[f]])


def describe(data: bytes) -> str:
    """``data`` as segment names, e.g. ``[t1 0 mixed] (6144 B)``: 0 for zeros, tN for token
    N's bytes, mixed otherwise."""
    segs = [data[i : i + SEG] for i in range(0, len(data), SEG)]
    names = []
    for sg in segs:
        if not sg.strip(b"\0"):
            names.append("0")
        elif len(set(sg)) == 1 and 0x41 <= sg[0] <= 0x43:
            names.append(f"t{sg[0] - 0x40}")
        else:
            names.append("mixed")
    return "[" + " ".join(names) + f"] ({len(data)} B)"


def compare_contents(c: Ctx) -> None:
    """The kernel's i_size and read(2) of every file against the spec's size (blocks) and
    contents (:func:`expected_bytes`).  Raises Mismatch."""
    L, s = c.L, c.s
    for f in L.files:
        size = os.fstat(c.fd(f)).st_size
        if size != c.nbytes[f]:
            raise Mismatch(f"{file_name(f)}: kernel i_size {size} B, expected {c.nbytes[f]} B")
        if s[L.size[f]] != -(-size // BLOCK):
            raise Mismatch(f"{file_name(f)}: spec size {s[L.size[f]]} blocks, kernel {size} B")
        got = os.pread(c.fd(f), size + 1, 0)
        want = expected_bytes(c, f)
        if got != want:
            raise Mismatch(f"{file_name(f)}: kernel reads {describe(got)}, spec {describe(want)}")


def compare_extents(c: Ctx) -> None:
    """FIEMAP (sync) against the spec's map for blocks below each file's size."""
    for f in c.L.files:  # every file first: a CoW of one file changes another's SHARED flag
        writeback(c.fd(f), 0, 0)
    compare_maps(c, [block_map(c.fd(f), c.s[c.L.size[f]]) for f in c.L.files])


def compare_maps(c: Ctx, kmaps: list) -> None:
    """The kernel's block maps against the spec's map, for blocks below each file's spec
    size: ``kmaps[f][x]`` is None for a hole, else ``(physical block, shared, unwritten)``
    (FIEMAP, :func:`~.kernel.block_map`).  Compared: allocated or not, unwritten or not,
    FIEMAP_EXTENT_SHARED against spec refcount > 1, and which (file, block) pairs share a
    physical block (equality classes; block numbers themselves differ).  Raises Mismatch."""
    L, s = c.L, c.s
    kphys, sphys = {}, {}
    for f in L.files:
        km = kmaps[f]
        for x in range(s[L.size[f]]):
            kind, p = s[L.ext_kind[f][x]], s[L.ext_pblk[f][x]]
            k = km[x] if x < len(km) else None
            where = f"{file_name(f)} block {x}"
            if (k is None) != (kind == HOLE):
                raise Mismatch(
                    f"{where}: kernel {'hole' if k is None else 'allocated'}, spec "
                    f"{'hole' if kind == HOLE else 'allocated'}"
                )
            if k is None:
                continue
            if k[2] != (kind == UNWRITTEN):
                raise Mismatch(
                    f"{where}: kernel {'unwritten' if k[2] else 'written'}, spec "
                    f"{'unwritten' if kind == UNWRITTEN else 'written'}"
                )
            spec_shared = s[L.refcount[p]] > 1
            if k[1] != spec_shared:
                raise Mismatch(
                    f"{where}: kernel FIEMAP_EXTENT_SHARED={k[1]}, spec refcount {s[L.refcount[p]]}"
                )
            kphys.setdefault(k[0], set()).add((f, x))
            sphys.setdefault(p, set()).add((f, x))
    kc = {frozenset(v) for v in kphys.values()}
    sc = {frozenset(v) for v in sphys.values()}
    if kc != sc:

        def fmt(cs):
            return sorted(sorted(f"{file_name(f)}{x}" for f, x in cl) for cl in cs)

        raise Mismatch(f"blocks sharing a physical block differ: kernel {fmt(kc)}, spec {fmt(sc)}")
