"""The operations of the differential oracle: one :class:`Op` per syscall, run on both sides.

Each op maps to spec actions (:meth:`Op.spec`) and to the real syscalls (:meth:`Op.kernel`:
pwrite, an mmap store + msync, fallocate, FALLOC_FL_PUNCH_HOLE, FICLONE, FICLONERANGE,
fdatasync, ftruncate); :class:`Ctx` holds a sequence's spec state, the kernel's descriptors
and the kernel's byte-granular sizes.  Used by :mod:`.differential` (XFS on a loop device)
and :mod:`.qemu.dax_oracle` (XFS on pmem in a guest).  Units: ``seg`` a 2 KiB segment index
within the file, ``blk`` a 4 KiB block index, sizes in bytes unless named ``*_blocks``.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

from ...spec import ops as A
from ...spec.model import DaxModel
from ...spec.state import HOLE, MM_NONE, PTE_RW, SEGS, file_name, token_name
from .kernel import BLOCK, fallocate, ficlone, ficlonerange, punch_hole

SEG = BLOCK // SEGS
"""Bytes per segment (2048)."""


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
        raise OracleError(
            f"token {token_name(t)} has no byte pattern (spec exposes {token_name(t)})"
        )
    return bytes([0x40 + t]) * SEG


class Mismatch(Exception):
    """The kernel and the spec differ; the message says where and how."""


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
            c.step(A.Mmap(0, f, sync=False))
        if c.s[L.pte_kind[0][f][x]] != PTE_RW:
            c.step(A.Fault(0, f, x, write=True))
        c.step(A.Store(0, f, x, g, self.token))
        c.step(A.Fdatasync(f))

    def kernel(self, c):
        x, g = self.seg // SEGS, self.seg % SEGS
        length = min(BLOCK, c.nbytes[self.file] - x * BLOCK)
        mm = mmap.mmap(
            c.fd(self.file),
            length,
            mmap.MAP_SHARED,
            mmap.PROT_READ | mmap.PROT_WRITE,
            offset=x * BLOCK,
        )
        try:
            mm[g * SEG : (g + 1) * SEG] = token_bytes(self.token)
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
        return (
            f"ficlonerange({file_name(self.src)}@{self.soff * BLOCK} -> "
            f"{file_name(self.dst)}@{self.doff * BLOCK}, {self.nblk} blk)"
        )

    def check(self, B, F):
        super().check(B, F)
        if (
            self.nblk < 1
            or not 0 <= self.soff <= B - self.nblk
            or not 0 <= self.doff <= B - self.nblk
        ):
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
        ficlonerange(
            c.fd(self.src), self.soff * BLOCK, c.clone_len, c.fd(self.dst), self.doff * BLOCK
        )


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
