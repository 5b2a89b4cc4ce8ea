"""The real-DAX oracle's file operations: syscalls on descriptors, run in the guest.

Each :class:`~..ops.Op` here runs on the spec (``spec``) and in the guest (``guest``):
pwrite, fallocate modes (ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE, UNSHARE, punch),
FICLONE/FICLONERANGE/FIDEDUPERANGE, fdatasync, fsync, ftruncate.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from ....spec import ops as A
from ....spec.state import SEGS, UNWRITTEN, WRITTEN, file_name
from ....spec.vocab import draft, freeze
from .. import ops as D
from ..kernel import BLOCK
from ..ops import SEG, Discard, Mismatch, Op, OracleError, Skip
from .guest import CommandError
from .shadows import (
    FALLOC_PUNCH,
    PIN_CORE,
    PIN_TIME,
    REFUSED_SHIFT_LOGS_CORE,
    GuestCtx,
    errname,
    fsync_step,
    guest_call,
    pin_inode,
    remapped,
)


class _LogsInodeCore:
    """Mixin for an op of the loop-XFS oracle that logs ``self.file``'s inode core
    (fallocate's xfs_update_prealloc_flags, ftruncate's xfs_setattr_size): after its spec
    side, the shadow pin (:data:`PIN_CORE`)."""

    def spec(self, c):
        super().spec(c)
        pin_inode(c, self.file, PIN_CORE)


@dataclass(frozen=True)
class PWrite(D.PWrite):
    __doc__ = D.PWrite.__doc__

    def spec(self, c):
        grows = (self.seg + self.nsegs) * SEG > c.nbytes[self.file]
        super().spec(c)
        pin_inode(c, self.file, PIN_CORE if grows else PIN_TIME)

    def guest(self, c):
        guest_call(c, f"pwrite {self.file} {self.seg * SEG} {self.nsegs * SEG} {0x40 + self.token}")


@dataclass(frozen=True)
class Falloc(_LogsInodeCore, D.Falloc):
    __doc__ = D.Falloc.__doc__

    def guest(self, c):
        guest_call(c, f"falloc {self.file} 0 {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class PunchHole(_LogsInodeCore, D.PunchHole):
    __doc__ = D.PunchHole.__doc__

    def guest(self, c):
        guest_call(c, f"falloc {self.file} {FALLOC_PUNCH} {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class Clone(D.Clone):
    __doc__ = D.Clone.__doc__

    def spec(self, c):
        empty = c.nbytes[self.src] == 0  # FICLONE of an empty file remaps nothing
        super().spec(c)
        if not empty:
            remapped(c, self.src, self.dst)

    def guest(self, c):
        guest_call(c, f"clone {self.src} {self.dst}")


@dataclass(frozen=True)
class CloneRange(D.CloneRange):
    __doc__ = D.CloneRange.__doc__

    def spec(self, c):
        super().spec(c)
        remapped(c, self.src, self.dst)

    def guest(self, c):
        guest_call(
            c,
            f"clonerange {self.src} {self.soff * BLOCK} {c.clone_len} {self.dst} "
            f"{self.doff * BLOCK}",
        )


@dataclass(frozen=True)
class Fdatasync(D.Fsync):
    __doc__ = D.Fsync.__doc__

    def spec(self, c):
        fsync_step(c, self.file, PIN_CORE, A.Fdatasync(self.file))

    def guest(self, c):
        guest_call(c, f"fdatasync {self.file}")


@dataclass(frozen=True)
class Trunc(_LogsInodeCore, D.Trunc):
    __doc__ = D.Trunc.__doc__

    def guest(self, c):
        guest_call(c, f"ftrunc {self.file} {self.blocks * BLOCK}")


@dataclass(frozen=True)
class Fsync(Op):
    """fsync(2) of ``file``: spec Fsync (xfs_file_fsync with datasync 0)."""

    file: int

    def __str__(self):
        return f"fsync({file_name(self.file)})"

    def spec(self, c):
        fsync_step(c, self.file, PIN_TIME, A.Fsync(self.file))

    def guest(self, c):
        guest_call(c, f"fsync {self.file}")


FALLOC_COLLAPSE, FALLOC_ZERO, FALLOC_INSERT, FALLOC_UNSHARE = 0x08, 0x10, 0x20, 0x40
"""fallocate modes (linux/falloc.h): COLLAPSE_RANGE, ZERO_RANGE, INSERT_RANGE, UNSHARE_RANGE."""


def _spec_step_or_refused(c: GuestCtx, action, errno_if_refused: int | None) -> bool:
    """Step ``action`` on the spec; when the spec refuses it (its guard is false), expect
    ``errno_if_refused`` from the kernel (None: the kernel succeeds and changes nothing the
    spec models).  Returns whether the spec stepped."""
    ns = c.m.next_state(c.s, action)
    if ns is None:
        c.expect = errno_if_refused
        return False
    c.s = ns
    return True


@dataclass(frozen=True)
class ZeroRange(Op):
    """fallocate(FALLOC_FL_ZERO_RANGE) of segments ``lo``..``hi`` of block ``blk`` of
    ``file`` (i_size grows to the range's end): spec ZeroRange (a whole block becomes
    unwritten, XFS's punch + preallocate; part of a block is zeroed in place or through a
    CoW).  Skipped where growing a mid-block EOF would zero a shared tail (as pwrite)."""

    file: int
    blk: int
    lo: int
    hi: int

    def __str__(self):
        return (
            f"zero_range({file_name(self.file)}, off={self.blk * BLOCK + self.lo * SEG}, "
            f"len={(self.hi - self.lo + 1) * SEG})"
        )

    def check(self, B, F):
        super().check(B, F)
        if not (0 <= self.blk < B and 0 <= self.lo <= self.hi < SEGS):
            raise OracleError(f"{self}: outside {B} blocks")

    def spec(self, c):
        end = self.blk * BLOCK + (self.hi + 1) * SEG
        if c.zeroing_eof_cows(self.file, end):
            raise Skip()
        c.step(A.ZeroRange(self.file, self.blk, self.lo, self.hi))
        c.nbytes[self.file] = max(c.nbytes[self.file], end)
        pin_inode(c, self.file, PIN_CORE)

    def guest(self, c):
        guest_call(
            c,
            f"falloc {self.file} {FALLOC_ZERO} {self.blk * BLOCK + self.lo * SEG} "
            f"{(self.hi - self.lo + 1) * SEG}",
        )


def _aligned(c: GuestCtx, *files) -> None:
    """Skip unless every one of ``files`` ends on a block boundary (collapse, insert and
    dedupe lengths are then the spec's whole blocks)."""
    if any(c.nbytes[f] % BLOCK for f in files):
        raise Skip()


def _refused_shift(c, f: int) -> None:
    """A COLLAPSE/INSERT_RANGE refused with EINVAL: ``file_modified`` ran before the check,
    so the inode core (6.1) or only its timestamps (6.12) were logged
    (:data:`REFUSED_SHIFT_LOGS_CORE`); an unsure pin either way."""
    pin_inode(c, f, PIN_CORE if REFUSED_SHIFT_LOGS_CORE[c.kernel] else PIN_TIME, sure=False)


@dataclass(frozen=True)
class CollapseRange(Op):
    """fallocate(FALLOC_FL_COLLAPSE_RANGE) of block ``blk`` of ``file``: spec
    CollapseRange; EINVAL on both sides unless the block ends before EOF.  Skipped for a
    file whose EOF is inside a block."""

    file: int
    blk: int

    def __str__(self):
        return f"collapse_range({file_name(self.file)}, off={self.blk * BLOCK}, len={BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blk < B - 1:
            raise OracleError(f"{self}: block {self.blk} leaves nothing to shift in {B} blocks")

    def spec(self, c):
        _aligned(c, self.file)
        if _spec_step_or_refused(c, A.CollapseRange(self.file, self.blk), errno.EINVAL):
            c.nbytes[self.file] -= BLOCK
            pin_inode(c, self.file, PIN_CORE)
        else:
            _refused_shift(c, self.file)

    def guest(self, c):
        guest_call(c, f"falloc {self.file} {FALLOC_COLLAPSE} {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class InsertRange(Op):
    """fallocate(FALLOC_FL_INSERT_RANGE) of one block at ``blk`` of ``file``: spec
    InsertRange; EINVAL on both sides unless ``blk`` is before EOF.  Discarded when the
    file already fills the spec's blocks (the kernel has room, the spec has not); skipped
    for a file whose EOF is inside a block."""

    file: int
    blk: int

    def __str__(self):
        return f"insert_range({file_name(self.file)}, off={self.blk * BLOCK}, len={BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blk < B - 1:
            raise OracleError(f"{self}: block {self.blk} leaves no room in {B} blocks")

    def spec(self, c):
        _aligned(c, self.file)
        size = c.s[c.L.size[self.file]]
        if self.blk < size and size >= c.blocks:
            raise Discard(f"{self}: the file fills the spec's {c.blocks} blocks")
        if _spec_step_or_refused(c, A.InsertRange(self.file, self.blk), errno.EINVAL):
            c.nbytes[self.file] += BLOCK
            pin_inode(c, self.file, PIN_CORE)
        else:
            _refused_shift(c, self.file)

    def guest(self, c):
        guest_call(c, f"falloc {self.file} {FALLOC_INSERT} {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class Unshare(Op):
    """fallocate(FALLOC_FL_UNSHARE_RANGE) of block ``blk`` of ``file``: spec Unshare (a
    shared block is copied, a hole preallocated unwritten); where it is refused the kernel
    succeeds and changes no extent.  Skipped past EOF, and for a hole or unwritten block of
    a reflinked inode (see :meth:`spec`)."""

    file: int
    blk: int

    def __str__(self):
        return f"unshare({file_name(self.file)}, off={self.blk * BLOCK}, len={BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blk < B:
            raise OracleError(f"{self}: block {self.blk} exceeds {B} blocks")

    def spec(self, c):
        if (self.blk + 1) * BLOCK > c.nbytes[self.file]:
            raise Skip()  # a range past EOF: the kernel trims it; the spec has no such op
        if c.reflinked[self.file] and c.s[c.L.ext_kind[self.file][self.blk]] != WRITTEN:
            # on a reflinked inode dax_file_unshare's ->iomap_begin(IOMAP_WRITE) allocates a
            # hole and converts an unwritten extent written and zeroed; the spec's Unshare
            # is the path of an inode without XFS_DIFLAG2_REFLINK, a state it does not have
            raise Skip()
        _spec_step_or_refused(c, A.Unshare(self.file, self.blk), None)
        pin_inode(c, self.file, PIN_CORE)

    def guest(self, c):
        guest_call(c, f"falloc {self.file} {FALLOC_UNSHARE} {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class Dedupe(Op):
    """ioctl(FIDEDUPERANGE) of ``nblk`` blocks of ``src`` at ``soff`` against ``dst`` at
    ``doff``: spec Dedupe when both ranges are inside EOF and read the same; the kernel's
    FILE_DEDUPE_RANGE_SAME / _DIFFERS status is compared with whether the spec could step;
    where the design compares raw pmem and a range has an unwritten extent, its stale bytes
    depend on which block the allocator chose, so either status is accepted and the spec
    follows the kernel's.  Skipped for files whose EOF is inside a block, or ranges past
    EOF."""

    src: int
    soff: int
    dst: int
    doff: int
    nblk: int

    def __str__(self):
        return (
            f"dedupe({file_name(self.src)}@{self.soff * BLOCK} -> "
            f"{file_name(self.dst)}@{self.doff * BLOCK}, {self.nblk} blk)"
        )

    def check(self, B, F):
        super().check(B, F)
        if (
            self.src == self.dst
            or self.nblk < 1
            or self.soff + self.nblk > B
            or self.doff + self.nblk > B
        ):
            raise OracleError(f"{self}: not two files' ranges inside {B} blocks")

    def spec(self, c):
        _aligned(c, self.src, self.dst)
        if (self.soff + self.nblk) * BLOCK > c.nbytes[self.src] or (
            self.doff + self.nblk
        ) * BLOCK > c.nbytes[self.dst]:
            raise Skip()
        L = c.L
        c.dedupe_before = (c.s, list(c.pin), list(c.reflinked))
        c.dedupe_either = c.m.design.dedupe_compare in ("raw-media", "stale-raw-media") and any(
            c.s[L.ext_kind[f][x]] == UNWRITTEN
            for f, x0 in ((self.src, self.soff), (self.dst, self.doff))
            for x in range(x0, x0 + self.nblk)
        )
        c.dedupe_same = _spec_step_or_refused(
            c, A.Dedupe(self.src, self.dst, self.soff, self.doff, self.nblk), None
        )
        if c.dedupe_same:
            remapped(c, self.src, self.dst)

    def guest(self, c):
        line = (
            f"dedupe {self.src} {self.soff * BLOCK} {self.nblk * BLOCK} {self.dst} "
            f"{self.doff * BLOCK}"
        )
        try:
            same = c.g.cmd(line)["same"] == "1"
        except CommandError as e:
            raise Mismatch(f"kernel {errname(e.errno)}, spec predicts success ({line})") from None
        if same == c.dedupe_same:
            return
        if not c.dedupe_either:
            raise Mismatch(
                f"kernel dedupe status {'SAME' if same else 'DIFFERS'}, spec "
                f"{'SAME' if c.dedupe_same else 'DIFFERS'} ({line})"
            )
        # A raw compare of an unwritten extent reads whatever its block held before: which
        # freed block XFS hands out is not the spec allocator's choice, so both outcomes are
        # the spec's; follow the kernel's (hook xfs_reflink_remap_blocks for SAME).
        c.s, c.pin, c.reflinked = c.dedupe_before
        if same:
            d = draft(c.s)
            c.m.design.xfs_reflink_remap_blocks(
                c.L, d, self.src, self.dst, self.soff, self.doff, self.nblk, dedupe=True
            )
            c.s = freeze(d)
            remapped(c, self.src, self.dst)
        c.dedupe_same = same
