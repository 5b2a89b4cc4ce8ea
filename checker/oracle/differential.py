"""The real kernel as an oracle: differential testing of the spec against XFS with reflink.

DAX needs pmem, but the file-data semantics the spec relies on (what read(2) returns after
writes, partial writes, mmap stores, fallocate, punch hole, reflink, copy-on-write breaking
of shared blocks, which ranges stay shared) are the same on a regular XFS with reflink.  An
*operation sequence* (:class:`Op` values over 2-3 files) runs twice:

* on the kernel, in a directory of a mounted XFS (see :func:`xfs_mount`), through the real
  syscalls (pwrite, mmap store + msync, fallocate, FALLOC_FL_PUNCH_HOLE, FICLONE,
  FICLONERANGE, fdatasync, ftruncate);
* on the spec, each op mapped to spec actions (:meth:`Op.spec_actions`) of the design
  :func:`oracle_design` (cow-srcmap with ``shared_check='in-core'``: the kernel decides
  sharing from the in-core refcount btree).

After every op the contents of every file are compared byte for byte (the spec's token per
2 KiB segment expands to :func:`token_bytes`; the kernel's byte-granular i_size is tracked
next to the spec's size in blocks); at the end of the sequence FIEMAP (with
FIEMAP_FLAG_SYNC) is compared with the spec's extent map: which (file, block) pairs are
allocated, unwritten, share a physical block (equality classes), and carry
FIEMAP_EXTENT_SHARED (spec: refcount > 1).  A sequence the spec cannot express within its
bounds (ENOSPC in the small spec) is *discarded*, never counted as a match.  Hypothesis
generates the sequences and shrinks a mismatch to a minimal operation list.

Units: ``seg`` is a 2 KiB segment index *within the file* (block ``seg // 2``), ``blk`` a
4 KiB block index, sizes in bytes unless named ``*_blocks``.
"""
from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field

from ...spec import ops as A
from ...spec.designs import ALL_FAMILIES, DESIGNS, Design
from ...spec.kernel.views import file_view
from ...spec.model import DaxModel
from ...spec.state import (HOLE, MM_NONE, PTE_RW, SEGS, STALE, UNWRITTEN, Bounds, file_name,
                          token_name)
from .kernel import (BLOCK, OracleUnavailable, XfsMount, block_map, fallocate, ficlone,
                     ficlonerange, punch_hole, unavailable_reason, writeback, xfs_mount)

SEG = BLOCK // SEGS
"""Bytes per segment (2048)."""

__all__ = ["Op", "PWrite", "MStore", "Falloc", "PunchHole", "Clone", "CloneRange", "Fsync",
           "Trunc", "Outcome", "OracleSummary", "OracleError", "oracle_design", "run_sequence",
           "run_oracle", "sequences", "token_bytes", "xfs_mount", "unavailable_reason",
           "OracleUnavailable", "crash_experiment"]


class OracleError(ValueError):
    """Bad input to the oracle (an op outside the sequence's files/blocks, bad run count);
    the message names it."""


def token_bytes(t: int) -> bytes:
    """The 2048 bytes of one segment holding data token ``t`` (0 = zeros; token t is the
    byte ``0x40 + t`` repeated, e.g. t1 = b'A' * 2048).  Raises OracleError for STALE or a
    token outside 0..3: the kernel never exposes stale media, so there is nothing to
    compare against."""
    if t == 0:
        return bytes(SEG)
    if not 1 <= t <= 3:
        raise OracleError(f"token {token_name(t)} has no byte pattern (spec exposes {token_name(t)})")
    return bytes([0x40 + t]) * SEG


def oracle_design(files: int = 3, blocks: int = 2, phys: int = 6) -> Design:
    """The design the kernel is compared with: cow-srcmap (CoW copies the head/tail from
    the source map) with every action family, ``shared_check='in-core'`` (XFS decides
    IOMAP_F_SHARED from the in-core refcount btree alone), at the given bounds (3 tokens,
    1 process)."""
    return DESIGNS["cow-srcmap"].variant(
        name="oracle-xfs", families=ALL_FAMILIES, shared_check="in-core",
        expect_violated=frozenset(),
        bounds=Bounds(files=files, blocks=blocks, phys=phys, tokens=3, procs=1, depth=60))


_MODELS: dict = {}


def model_for(files: int, blocks: int, design=None) -> DaxModel:
    """The (cached) spec model of ``design(files, blocks)`` (a function returning a Design;
    default :func:`oracle_design`, looked up at each call) that sequences of ``files`` x
    ``blocks`` run on."""
    design = design or oracle_design
    key = (design, files, blocks)
    if key not in _MODELS:
        _MODELS[key] = DaxModel(design(files, blocks))
    return _MODELS[key]


# ----------------------------------------------------------------------------- operations
class Discard(Exception):
    """The spec cannot express this step within its bounds (ENOSPC in the small spec)."""


class Skip(Exception):
    """The op is not meaningful here on either side (e.g. a store beyond EOF, a clone the
    kernel refuses for byte-granular reasons the spec does not model); run nothing."""


class Ctx:
    """Per-sequence state shared by the two sides: the spec model and state, the kernel
    directory and descriptors, and the kernel's byte-granular sizes (shadow)."""

    def __init__(self, model: DaxModel, root: str | None):
        self.m = model
        self.L = model.L
        self.s = model.init_states()[0]
        self.nbytes = [0] * model.bounds.files
        self.root = root
        self.fds = []
        self.clone_len = 0

    def step(self, a: A.Action):
        ns = self.m.next_state(self.s, a)
        if ns is None:
            raise Discard(a.describe())
        self.s = ns

    def fd(self, f: int) -> int:
        return self.fds[f]

    def zeroing_eof_cows(self, f: int, start: int) -> bool:
        """Whether growing ``f`` from its current i_size with data or a new size starting at
        byte ``start`` makes the kernel zero the tail of a mid-block EOF block that is
        shared (xfs_file_write_checks / xfs_setattr_size → iomap_zero_range, which CoWs a
        shared block although the bytes stay zero).  The spec's sizes are in blocks, so it
        has no such write: such ops are skipped."""
        n = self.nbytes[f]
        if n % BLOCK == 0 or start <= n:
            return False
        x = n // BLOCK
        L, s = self.L, self.s
        return s[L.ext_kind[f][x]] != HOLE and s[L.refcount[s[L.ext_pblk[f][x]]]] > 1


@dataclass(frozen=True)
class Op:
    """One operation of a sequence.  ``check(B, F)`` raises OracleError if the op does not
    fit ``F`` files of ``B`` blocks; ``spec`` applies it to the spec (raising Discard when
    the spec cannot express it, Skip when it is skipped on both sides); ``kernel`` runs it
    on the kernel (OSError propagates)."""

    def check(self, B: int, F: int) -> None:
        for name in ("file", "src", "dst"):
            v = getattr(self, name, None)
            if v is not None and not 0 <= v < F:
                raise OracleError(f"{self}: file {v} is not one of the {F} files")
        t = getattr(self, "token", None)
        if t is not None and not 1 <= t <= 3:
            raise OracleError(f"{self}: token {t} is not in 1..3")

    def spec(self, c: Ctx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def kernel(self, c: Ctx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class PWrite(Op):
    """pwrite(2) of ``nsegs`` segments of token ``token`` at segment ``seg`` of ``file``
    (byte offset ``seg * 2048``, possibly spanning blocks): spec Write per block touched."""

    file: int
    seg: int
    nsegs: int
    token: int

    def __str__(self):
        return f"pwrite({file_name(self.file)}, off={self.seg * SEG}, len={self.nsegs * SEG}, t{self.token})"

    def check(self, B, F):
        super().check(B, F)
        if self.nsegs < 1 or self.seg < 0 or self.seg + self.nsegs > B * SEGS:
            raise OracleError(f"{self}: segments {self.seg}..+{self.nsegs} exceed {B} blocks")

    def spec(self, c):
        g0, g1 = self.seg, self.seg + self.nsegs - 1
        if c.zeroing_eof_cows(self.file, g0 * SEG):
            raise Skip()
        for x in range(g0 // SEGS, g1 // SEGS + 1):
            lo = max(g0, x * SEGS) - x * SEGS
            hi = min(g1, x * SEGS + SEGS - 1) - x * SEGS
            c.step(A.Write(self.file, x, lo, hi, self.token))
        c.nbytes[self.file] = max(c.nbytes[self.file], (g1 + 1) * SEG)

    def kernel(self, c):
        data = token_bytes(self.token) * self.nsegs
        if os.pwrite(c.fd(self.file), data, self.seg * SEG) != len(data):
            raise OSError(0, f"{self}: short write")


@dataclass(frozen=True)
class MStore(Op):
    """A store of token ``token`` into segment ``seg`` of ``file`` through
    mmap(MAP_SHARED) of its page, then msync(MS_SYNC) and munmap: spec Mmap (once),
    Fault(write) unless the PTE is writable, Store, Fdatasync (msync → xfs_file_fsync).
    Skipped when the segment is not entirely below the kernel's i_size (the page tail
    beyond EOF is not file data)."""

    file: int
    seg: int
    token: int

    def __str__(self):
        return f"mstore({file_name(self.file)}, off={self.seg * SEG}, t{self.token})+msync"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.seg < B * SEGS:
            raise OracleError(f"{self}: segment {self.seg} exceeds {B} blocks")

    def spec(self, c):
        if (self.seg + 1) * SEG > c.nbytes[self.file]:
            raise Skip()
        L, f, x, g = c.L, self.file, self.seg // SEGS, self.seg % SEGS
        if c.s[L.mmap_mode[0][f]] == MM_NONE:
            c.step(A.Mmap(0, f, False))
        if c.s[L.pte_kind[0][f][x]] != PTE_RW:
            c.step(A.Fault(0, f, x, True))
        c.step(A.Store(0, f, x, g, self.token))
        c.step(A.Fdatasync(f))

    def kernel(self, c):
        x, g = self.seg // SEGS, self.seg % SEGS
        length = min(BLOCK, c.nbytes[self.file] - x * BLOCK)
        mm = mmap.mmap(c.fd(self.file), length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                       offset=x * BLOCK)
        try:
            mm[g * SEG:(g + 1) * SEG] = token_bytes(self.token)
            mm.flush()
        finally:
            mm.close()


@dataclass(frozen=True)
class Falloc(Op):
    """fallocate(mode 0) of block ``blk`` of ``file``: spec Fallocate on a hole; on an
    allocated block the kernel only extends i_size (the spec's size already covers it)."""

    file: int
    blk: int

    def __str__(self):
        return f"fallocate({file_name(self.file)}, off={self.blk * BLOCK}, len={BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blk < B:
            raise OracleError(f"{self}: block {self.blk} exceeds {B} blocks")

    def spec(self, c):
        if c.zeroing_eof_cows(self.file, (self.blk + 1) * BLOCK):
            raise Skip()
        if c.s[c.L.ext_kind[self.file][self.blk]] == HOLE:
            c.step(A.Fallocate(self.file, self.blk))
        c.nbytes[self.file] = max(c.nbytes[self.file], (self.blk + 1) * BLOCK)

    def kernel(self, c):
        fallocate(c.fd(self.file), 0, self.blk * BLOCK, BLOCK)


@dataclass(frozen=True)
class PunchHole(Op):
    """fallocate(PUNCH_HOLE | KEEP_SIZE) of block ``blk`` of ``file``: spec Punch unless
    the block is already a hole (then nothing happens on either side)."""

    file: int
    blk: int

    def __str__(self):
        return f"punch({file_name(self.file)}, off={self.blk * BLOCK}, len={BLOCK})"

    def check(self, B, F):
        Op.check(self, B, F)
        if not 0 <= self.blk < B:
            raise OracleError(f"{self}: block {self.blk} exceeds {B} blocks")

    def spec(self, c):
        if c.s[c.L.ext_kind[self.file][self.blk]] != HOLE:
            c.step(A.Punch(self.file, self.blk))

    def kernel(self, c):
        punch_hole(c.fd(self.file), self.blk * BLOCK, BLOCK)


@dataclass(frozen=True)
class Clone(Op):
    """ioctl(dst, FICLONE, src): spec Reflink.  Nothing happens for an empty ``src``.
    Skipped when the kernel refuses it with EINVAL for byte-granular reasons the spec does
    not model: ``src``'s EOF is not block aligned and ``dst`` is larger (the clone would
    end mid-block inside ``dst``)."""

    src: int
    dst: int

    def __str__(self):
        return f"ficlone({file_name(self.src)} -> {file_name(self.dst)})"

    def check(self, B, F):
        super().check(B, F)
        if self.src == self.dst:
            raise OracleError(f"{self}: FICLONE of a file onto itself")

    def spec(self, c):
        n_src, n_dst = c.nbytes[self.src], c.nbytes[self.dst]
        if n_src == 0:
            return
        if n_src % BLOCK and n_src < n_dst:
            raise Skip()
        c.step(A.Reflink(self.src, self.dst))
        c.nbytes[self.dst] = max(n_dst, n_src)

    def kernel(self, c):
        ficlone(c.fd(self.src), c.fd(self.dst))


@dataclass(frozen=True)
class CloneRange(Op):
    """ioctl(dst, FICLONERANGE) of ``nblk`` blocks of ``src`` from block ``soff`` onto
    block ``doff`` of ``dst``; the byte length passed is shortened to ``src``'s EOF (as the
    spec's ReflinkRange does).  Skipped when ``soff`` is at or past ``src``'s EOF (EINVAL on
    both sides), when the ranges of one file overlap (no spec instance, EINVAL), when the
    shortened length ends mid-block inside ``dst`` (kernel EINVAL, byte-granular), or when
    ``doff`` lies past ``dst``'s mid-block EOF in a shared block: xfs_reflink_remap_prep
    zeroes ``dst`` from EOF to ``doff`` first, which CoWs that block (seen on XFS: after
    ``pwrite(b, 0, 2048); FICLONE(b -> a); FICLONERANGE(a@0 -> a@4096)`` a's block 0 moved
    and b's block is no longer shared), and the spec's block-granular sizes have no such
    zeroing write."""

    src: int
    soff: int
    dst: int
    doff: int
    nblk: int

    def __str__(self):
        return (f"ficlonerange({file_name(self.src)}@{self.soff * BLOCK} -> "
                f"{file_name(self.dst)}@{self.doff * BLOCK}, {self.nblk} blk)")

    def check(self, B, F):
        super().check(B, F)
        if self.nblk < 1 or not 0 <= self.soff <= B - self.nblk or not 0 <= self.doff <= B - self.nblk:
            raise OracleError(f"{self}: range exceeds {B} blocks")

    def _len(self, c) -> int:
        return min(self.nblk * BLOCK, c.nbytes[self.src] - self.soff * BLOCK)

    def spec(self, c):
        a = A.ReflinkRange(self.src, self.dst, self.soff, self.doff, self.nblk)
        n = self._len(c)
        if n <= 0 or a not in c.m.index:
            raise Skip()
        if n % BLOCK and self.doff * BLOCK + n < c.nbytes[self.dst]:
            raise Skip()
        if c.zeroing_eof_cows(self.dst, self.doff * BLOCK):
            raise Skip()
        c.step(a)
        c.nbytes[self.dst] = max(c.nbytes[self.dst], self.doff * BLOCK + n)
        c.clone_len = n  # the kernel side must use the length from before the size update

    def kernel(self, c):
        ficlonerange(c.fd(self.src), self.soff * BLOCK, c.clone_len, c.fd(self.dst),
                     self.doff * BLOCK)


@dataclass(frozen=True)
class Fsync(Op):
    """fdatasync(2) of ``file``: spec Fdatasync."""

    file: int

    def __str__(self):
        return f"fdatasync({file_name(self.file)})"

    def spec(self, c):
        c.step(A.Fdatasync(self.file))

    def kernel(self, c):
        os.fdatasync(c.fd(self.file))


@dataclass(frozen=True)
class Trunc(Op):
    """ftruncate(2) of ``file`` to ``blocks`` blocks: spec Truncate (nothing when the
    spec's size in blocks is already ``blocks``; the kernel may still move a mid-block
    EOF to the block boundary, over bytes that read as zeros on both sides)."""

    file: int
    blocks: int

    def __str__(self):
        return f"ftruncate({file_name(self.file)}, {self.blocks * BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blocks <= B:
            raise OracleError(f"{self}: size {self.blocks} blocks exceeds {B}")

    def spec(self, c):
        if c.zeroing_eof_cows(self.file, self.blocks * BLOCK):
            raise Skip()
        if c.s[c.L.size[self.file]] != self.blocks:
            c.step(A.Truncate(self.file, self.blocks))
        c.nbytes[self.file] = self.blocks * BLOCK

    def kernel(self, c):
        os.ftruncate(c.fd(self.file), self.blocks * BLOCK)


# ----------------------------------------------------------------------------- comparison
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
    return bytes(out[:c.nbytes[f]])


class Mismatch(Exception):
    """The kernel and the spec differ; the message says where and how."""


def describe(data: bytes) -> str:
    """``data`` as segment names, e.g. ``[t1 0 mixed] (6144 B)``: 0 for zeros, tN for token
    N's bytes, mixed otherwise."""
    segs = [data[i:i + SEG] for i in range(0, len(data), SEG)]
    names = []
    for sg in segs:
        if not sg.strip(b"\0"):
            names.append("0")
        elif len(set(sg)) == 1 and 0x41 <= sg[0] <= 0x43:
            names.append(f"t{sg[0] - 0x40}")
        else:
            names.append("mixed")
    return "[" + " ".join(names) + f"] ({len(data)} B)"


def _compare_contents(c: Ctx) -> None:
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
            raise Mismatch(f"{file_name(f)}: kernel reads {describe(got)}, spec "
                            f"{describe(want)}")


def _compare_extents(c: Ctx) -> None:
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
                raise Mismatch(f"{where}: kernel {'hole' if k is None else 'allocated'}, spec "
                               f"{'hole' if kind == HOLE else 'allocated'}")
            if k is None:
                continue
            if k[2] != (kind == UNWRITTEN):
                raise Mismatch(f"{where}: kernel {'unwritten' if k[2] else 'written'}, spec "
                               f"{'unwritten' if kind == UNWRITTEN else 'written'}")
            spec_shared = s[L.refcount[p]] > 1
            if k[1] != spec_shared:
                raise Mismatch(f"{where}: kernel FIEMAP_EXTENT_SHARED={k[1]}, spec refcount "
                               f"{s[L.refcount[p]]}")
            kphys.setdefault(k[0], set()).add((f, x))
            sphys.setdefault(p, set()).add((f, x))
    kc = {frozenset(v) for v in kphys.values()}
    sc = {frozenset(v) for v in sphys.values()}
    if kc != sc:
        def fmt(cs):
            return sorted(sorted(f"{file_name(f)}{x}" for f, x in cl) for cl in cs)
        raise Mismatch(f"blocks sharing a physical block differ: kernel {fmt(kc)}, spec {fmt(sc)}")


# ----------------------------------------------------------------------------- runner
@dataclass
class Outcome:
    """Result of one sequence: ``status`` is 'match', 'mismatch' or 'discarded'; ``ops_run``
    counts ops executed on the kernel (skipped ops excluded); ``message`` says what differed
    (after which op) or why the sequence was discarded."""

    status: str
    ops_run: int
    message: str = ""


def run_sequence(root: str, files: int, blocks: int, ops, extents: bool = True) -> Outcome:
    """Run ``ops`` (a sequence of :class:`Op`) on fresh files a, b[, c] in directory
    ``root`` (on an XFS with reflink, 4 KiB blocks) and on the spec at ``files`` files of
    ``blocks`` blocks, comparing contents after every op and, with ``extents``, FIEMAP at
    the end.  Removes the files afterwards.  Raises OracleError for ops that do not fit the
    bounds; OSError only for failures to create/remove the files."""
    if files not in (2, 3) or blocks not in (1, 2, 3):
        raise OracleError(f"oracle runs 2-3 files of 1-3 blocks, not {files} x {blocks}")
    for op in ops:
        op.check(blocks, files)
    c = Ctx(model_for(files, blocks), root)
    paths = [os.path.join(root, file_name(f)) for f in range(files)]
    for p in paths:
        if os.path.lexists(p):
            os.unlink(p)
    c.fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644) for p in paths]
    done = 0
    try:
        for i, op in enumerate(ops):
            try:
                op.spec(c)
            except Skip:
                continue
            except Discard as e:
                return Outcome("discarded", done, f"op {i} {op}: spec cannot express {e} "
                                                  f"(ENOSPC at these bounds)")
            try:
                op.kernel(c)
            except OSError as e:
                return Outcome("mismatch", done + 1, f"after op {i} {op}: kernel failed "
                                                     f"({e}) where the spec succeeded")
            done += 1
            try:
                _compare_contents(c)
            except Mismatch as e:
                return Outcome("mismatch", done, f"after op {i} {op}: {e}")
        if extents:
            try:
                _compare_extents(c)
            except Mismatch as e:
                return Outcome("mismatch", done, f"at the end: {e}")
        return Outcome("match", done)
    finally:
        for fd in c.fds:
            os.close(fd)
        for p in paths:
            if os.path.lexists(p):
                os.unlink(p)


def sequences(max_ops: int = 10):
    """Hypothesis strategy of ``(files, blocks, ops)``: 3 files of 2 blocks or 2 files of 3
    blocks, and a length drawn uniformly in 1..``max_ops`` (hypothesis alone favours very
    short lists), ops weighted towards writes."""
    from hypothesis import strategies as st

    @st.composite
    def strat(draw):
        files, blocks = draw(st.sampled_from(((3, 2), (2, 3))))
        fi = st.integers(0, files - 1)
        bl = st.integers(0, blocks - 1)
        tok = st.integers(1, 3)
        nseg = blocks * SEGS

        @st.composite
        def pwrite(d):
            g = d(st.integers(0, nseg - 1))
            return PWrite(d(fi), g, d(st.integers(1, min(3, nseg - g))), d(tok))

        @st.composite
        def clone(d):
            a = d(fi)
            return Clone(a, d(fi.filter(lambda b: b != a)))

        @st.composite
        def clonerange(d):
            n = d(st.integers(1, blocks))
            return CloneRange(d(fi), d(st.integers(0, blocks - n)), d(fi),
                              d(st.integers(0, blocks - n)), n)

        op = st.one_of(
            pwrite(), pwrite(),
            st.builds(MStore, fi, st.integers(0, nseg - 1), tok),
            st.builds(Falloc, fi, bl), st.builds(PunchHole, fi, bl),
            clone(), clonerange(),
            st.builds(Fsync, fi), st.builds(Trunc, fi, st.integers(0, blocks)))
        n = draw(st.integers(1, max_ops))
        return files, blocks, draw(st.lists(op, min_size=n, max_size=n))
    return strat()


MAX_RUNS = 1_000_000
"""Largest ``--runs`` (sequences) one oracle run accepts."""
MAX_OPS = 100
"""Largest ``--max-ops`` (operations per sequence)."""


def hypothesis_home() -> None:
    """Point hypothesis's storage directory at the user's cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``, ``daxcheck/hypothesis``) so that no ``.hypothesis/`` folder appears in the
    directory daxcheck is run from."""
    from hypothesis.configuration import set_hypothesis_home_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    set_hypothesis_home_dir(os.path.join(base, "daxcheck", "hypothesis"))


@dataclass
class OracleSummary:
    """What :func:`run_oracle` did: ``sequences`` run (generated, including shrinking
    replays), ``operations`` run on the kernel, ``matched`` / ``discarded`` sequences,
    ``mismatches``: one ``(minimal op list as strings, message)`` per mismatch found (after
    shrinking), ``seconds`` of wall time."""

    sequences: int = 0
    operations: int = 0
    matched: int = 0
    discarded: int = 0
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A human-readable report, one line per item."""
        out = [f"kernel oracle: {self.sequences} sequences, {self.operations} operations, "
               f"{self.matched} matched, {self.discarded} discarded (spec bounds), "
               f"{len(self.mismatches)} mismatch{'es' if len(self.mismatches) != 1 else ''} "
               f"in {self.seconds:.1f}s"]
        for ops, msg in self.mismatches:
            out.append(f"MISMATCH: {msg}")
            out.extend(f"  {i}. {o}" for i, o in enumerate(ops))
        return out


def run_oracle(mountpoint: str | os.PathLike | None, runs: int, seed: int,
               max_ops: int = 10) -> OracleSummary:
    """Differential test: hypothesis generates sequences (seeded with ``seed``) until
    ``runs`` of them were not discarded, runs each with :func:`run_sequence` in directory
    ``mountpoint`` (an XFS with reflink; None: a temporary :func:`xfs_mount`), and shrinks
    the first mismatch to a minimal op list.  Returns an :class:`OracleSummary`.  Raises
    OracleError for ``runs`` < 1 or a mountpoint that is not a directory, OracleUnavailable
    when a temporary mount cannot be made."""
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= MAX_RUNS:
        raise OracleError(f"runs={runs!r} is not an int in 1..{MAX_RUNS}")
    if not isinstance(max_ops, int) or isinstance(max_ops, bool) or not 1 <= max_ops <= MAX_OPS:
        raise OracleError(f"max-ops={max_ops!r} is not an int in 1..{MAX_OPS}")
    if mountpoint is None:
        with xfs_mount() as m:
            return run_oracle(m.path, runs, seed, max_ops)
    root = os.fspath(mountpoint)
    if not os.path.isdir(root):
        raise OracleError(f"oracle directory {root} does not exist")
    hypothesis_home()
    from hypothesis import HealthCheck, given, settings, seed as hseed, assume

    summary = OracleSummary()
    last_fail: list = []
    t0 = time.monotonic()

    @hseed(seed)
    @settings(max_examples=runs, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False,
              report_multiple_bugs=False)
    @given(sequences(max_ops))
    def prop(seq):
        files, blocks, ops = seq
        out = run_sequence(root, files, blocks, ops)
        summary.sequences += 1
        summary.operations += out.ops_run
        if out.status == "discarded":
            summary.discarded += 1
            assume(False)
        if out.status == "mismatch":
            last_fail[:] = [[str(o) for o in ops], out.message]
            raise AssertionError(out.message)
        summary.matched += 1

    try:
        prop()
    except AssertionError:
        if last_fail:
            summary.mismatches.append(tuple(last_fail))
        else:  # pragma: no cover - hypothesis internal failure
            raise
    summary.seconds = time.monotonic() - t0
    return summary


# ----------------------------------------------------------------------------- crash
def crash_experiment(mnt: XfsMount) -> dict:
    """The in-core-refcount crash scenario of design cow-in-core-refcount, on the kernel.

    On ``mnt`` (a mounted scratch XFS from :func:`xfs_mount`; it is shut down and
    remounted):

    1. a := 4 KiB of t1, fdatasync(a);
    2. FICLONE a -> b, fdatasync(a) (the shared map is in the log);
    3. pwrite 2 KiB of t2 at offset 0 of a, sync_file_range(WRITE|WAIT) (buffered CoW:
       writeback writes the CoW block and xfs_reflink_end_cow remaps a in a transaction
       that is committed in memory only; no log force);
    4. O_DIRECT pwrite 4 KiB of t3 at offset 0 of b (if the in-core refcount says b's block
       is no longer shared, XFS overwrites it in place; the data reaches the disk);
    5. XFS_IOC_GOINGDOWN with NOLOGFLUSH (``xfs_io -x -c shutdown``), umount, mount (log
       recovery), read a and b.

    Returns a dict with FIEMAP of a and b after each step (``(phys block, shared,
    unwritten)`` per block), the contents after recovery (segment names as in mismatch
    reports: ``[t1 t1]``) and ``b_in_place`` (step 4 did not move b's block)."""
    root = mnt.path
    pa, pb = os.path.join(root, "crash-a"), os.path.join(root, "crash-b")
    obs: dict = {"steps": []}

    def snap(tag, fa, fb):
        obs["steps"].append((tag, block_map(fa, 1, sync=False), block_map(fb, 1, sync=False)))

    fa = os.open(pa, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    fb = os.open(pb, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.pwrite(fa, token_bytes(1) * 2, 0)
        os.fdatasync(fa)
        snap("write a t1 + fdatasync", fa, fb)
        ficlone(fa, fb)
        os.fdatasync(fa)
        snap("ficlone a->b + fdatasync", fa, fb)
        os.pwrite(fa, token_bytes(2), 0)
        writeback(fa, 0, BLOCK)
        snap("pwrite a[0:2K] t2 + sync_file_range (CoW remap, no log force)", fa, fb)
        fd_direct = os.open(pb, os.O_RDWR | os.O_DIRECT)
        try:
            buf = mmap.mmap(-1, BLOCK)  # page-aligned buffer for O_DIRECT
            buf.write(token_bytes(3) * 2)
            os.pwritev(fd_direct, [buf], 0)
            buf.close()
        finally:
            os.close(fd_direct)
        snap("O_DIRECT pwrite b[0:4K] t3", fa, fb)
        obs["b_in_place"] = obs["steps"][-1][2][0][0] == obs["steps"][-2][2][0][0]
        obs["before_crash"] = {"a": describe(os.pread(fa, BLOCK, 0)),
                               "b": describe(os.pread(fb, BLOCK, 0))}
    finally:
        os.close(fa)
        os.close(fb)
    from .kernel import shutdown_nologflush
    shutdown_nologflush(root)
    mnt.remount()
    fa = os.open(pa, os.O_RDONLY)
    fb = os.open(pb, os.O_RDONLY)
    try:
        snap("after shutdown(NOLOGFLUSH) + remount (log recovery)", fa, fb)
        obs["after_recovery"] = {"a": describe(os.pread(fa, BLOCK + 1, 0)),
                                 "b": describe(os.pread(fb, BLOCK + 1, 0))}
    finally:
        os.close(fa)
        os.close(fb)
    return obs
