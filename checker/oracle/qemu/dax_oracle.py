"""The real-DAX oracle: operation sequences on a Debian kernel's fsdax path and on the spec.

A sequence of :class:`~..differential.Op` values over 2-3 files of 2-3 blocks runs on XFS
mounted ``-o dax=always`` on the emulated NVDIMM of a :class:`~.guest.DaxGuest` and on the
spec design that models that kernel (:func:`~daxcheck.spec.kernels.kernel_design`,
``xfs-6.12`` / ``xfs-6.1``).  The ops are the loop-XFS oracle's (pwrite, fallocate, punch
hole, FICLONE, FICLONERANGE, fdatasync, ftruncate: their spec side is shared) plus the DAX
ones: mmap with MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC or MAP_PRIVATE (:class:`Map`),
munmap, stores and loads through the mapping (write and read faults, :class:`MStore`,
:class:`MLoad`), msync, fsync, and a crash (:class:`Crash`).

After every op, for every file, the kernel's ``state`` (i_size, FIEMAP, STATX_ATTR_DAX and
one byte per 2 KiB segment) is compared with the spec: contents at the spec's granularity,
the size, the extent map (:func:`~..differential.compare_maps`), the DAX attribute; the
errno of the op (SIGBUS for a store or load past EOF, where the spec's fault is disabled)
and the guest's console (a WARN/BUG/Oops line is a mismatch unless the spec's
``warning`` field says the kernel warns).

A crash ends a sequence.  On the kernel: SIGKILL of QEMU and a reboot (``kill``) or
XFS_IOC_GOINGDOWN without a log flush and a remount (``shutdown``); either way the next
mount runs log recovery and every file is read back.  On the spec: the *set* of allowed
post-crash states: every subset of dirty cache lines evicted (QEMU has no cache model, so
the kernel shows the all-evicted member), the log as the spec's last log force left it
(the guest's XFS log worker is slowed to its maximum period, so nothing pushes the log in
the background).  The kernel's recovered state must equal one member at the spec's
granularity (block counts, segment contents, extent map).

Units: ``seg`` is a 2 KiB segment within a file, ``blk`` a 4 KiB block, sizes in bytes.
"""
from __future__ import annotations

import errno
import random
import time
from dataclasses import dataclass, field
from itertools import combinations

from ....spec import ops as A
from ....spec.kernel.views import load_view
from ....spec.kernel.xfs_log import inode_meta_dirty
from ....spec.vocab import draft, freeze
from ....spec.kernels import SETTINGS, kernel_design
from ....spec.state import (WARNINGS, WRITTEN, UNWRITTEN, MM_NONE, MM_PRIVATE, MM_SYNC, PTE_ANON, PTE_NONE, PTE_RW, SEGS, file_name)
from .. import differential as D
from ..differential import BLOCK, SEG, Ctx, Discard, Mismatch, Op, OracleError, Skip
from .guest import CommandError, DaxGuest

SIGBUS = -7
"""The ``errno`` daxguest reports when a store or load through a mapping raised SIGBUS."""

MAP_KINDS = ("shared", "sync", "private")
"""``Map.kind`` values: MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC, MAP_PRIVATE."""

FALLOC_PUNCH = 0x3
"""FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE."""


# ----------------------------------------------------------------------------- guest side
class GuestCtx(Ctx):
    """A :class:`~..differential.Ctx` whose kernel is a guest: ``g`` the
    :class:`~.guest.DaxGuest`, ``expect`` the errno the spec predicts for the current op
    (None: success),
    ``blocks`` the blocks per file (a mapping's length), ``load_want`` the token the last
    MLoad expects, ``pin[f]`` what the kernel has logged of inode ``f`` since the last log
    force that the spec's state cannot show (:data:`PIN_TIME`, :data:`PIN_CORE`), the
    shadow of the kernel's inode core next to ``nbytes``, the shadow of its byte sizes;
    ``fresh[f]``: the inode's ili_fsync_fields still hold XFS_ILOG_CORE from its creation
    (only an fsync that forces the log for it clears them), so any later transaction on it,
    a timestamp update too, pins it for fdatasync;
    ``reflinked[f]``: XFS_DIFLAG2_REFLINK, set on both inodes by a remap that got past
    xfs_reflink_remap_prep (the spec has no such field)."""

    def __init__(self, model, guest: DaxGuest, blocks: int, kernel: str = "6.12"):
        super().__init__(model, None)
        self.g = guest
        self.kernel = kernel
        self.blocks = blocks
        self.load_want = 0
        self.pin = [PIN_NONE] * model.bounds.files
        self.pin_sure = [PIN_NONE] * model.bounds.files
        self.fresh = [True] * model.bounds.files
        self.reflinked = [False] * model.bounds.files
        self.dedupe_same = False
        self.dedupe_either = False
        self.dedupe_before = None
        self.expect: int | None = None
        self.kills = 0

    def mapped(self, f: int) -> int:
        """The spec's mmap mode of ``file`` in process 0 (MM_NONE when unmapped)."""
        return self.s[self.L.mmap_mode[0][f]]


PIN_NONE, PIN_TIME, PIN_CORE = 0, 1, 2
"""What the kernel logged of an inode since the last log force, beyond the spec's map and
block size: nothing; timestamps only (XFS_ILOG_TIMESTAMP: write(2) and write faults,
file_update_time; fsync forces the log for it, fdatasync does not); the inode core
(XFS_ILOG_CORE: fallocate's xfs_update_prealloc_flags even where no extent changes,
ftruncate's xfs_setattr_size, a byte i_size grown by xfs_setfilesize, a reflink's inode
flags; fdatasync and a MAP_SYNC write fault force the log for it: ili_fsync_fields).  The
mount uses noatime, so reads log nothing."""


def _pin(c: "GuestCtx", f: int, level: int, sure: bool = True) -> None:
    """Inode ``f`` logged at ``level``.  A timestamp update (:data:`PIN_TIME`) is never
    sure: with coarse timestamps it logs nothing when the clock has not ticked since the
    last one (a sync that depends on it alone is skipped, :func:`_sync`)."""
    if level == PIN_TIME:
        sure = False
    if level and c.fresh[f]:
        level = PIN_CORE  # the creation's XFS_ILOG_CORE is still in ili_fsync_fields
    c.pin[f] = max(c.pin[f], level)
    if sure:
        c.pin_sure[f] = max(c.pin_sure[f], level)


def _journal(c: "GuestCtx") -> tuple:
    L, s = c.L, c.s
    return tuple(s[o] for f, x in L.file_blks for o in (L.jext_kind[f][x], L.jext_pblk[f][x])) + \
        tuple(s[L.jsize[f]] for f in L.files)


REFUSED_SHIFT_LOGS_CORE = {"6.1": True, "6.12": False}
"""Per kernel: a COLLAPSE_RANGE or INSERT_RANGE refused with EINVAL logs the inode core
even after an fsync cleared its fsync fields (on both kernels the refused call updates the
timestamps, file_modified, which pins a fresh inode: see ``GuestCtx.fresh``).  Observed on
6.1.192, not on 6.12.118; reproducer: pwrite(a, 0, 2048); fdatasync(a); pwrite(b, 0, 4096);
fallocate(a, COLLAPSE_RANGE, 0, 4096) -> EINVAL; fdatasync(a); power cut: b keeps its
4096 bytes on 6.1 only.  The source of the difference is not traced yet; it is kept in the
oracle's shadow of the inode core because the spec has no state for a failed fallocate."""


def _remapped(c: "GuestCtx", src: int, dst: int) -> None:
    """A FICLONE/FICLONERANGE/FIDEDUPERANGE went through: both inodes log their core and
    carry the reflink flag."""
    for f in (src, dst):
        _pin(c, f, PIN_CORE)
        c.reflinked[f] = True


def _force_if_pinned(c: "GuestCtx", f: int, level: int) -> None:
    """The kernel forces the log for an inode pinned at ``level`` or more
    (xfs_fsync_flush_log; dax_iomap_fault's IOMAP_F_DIRTY): commit the spec's journal too
    (hook xfs_log_force) when only the shadow ``pin`` knows the inode is pinned."""
    if c.pin[f] >= level:
        d = draft(c.s)
        c.m.design.xfs_log_force(c.L, d)
        c.s = freeze(d)
        _forced(c)


def _forced(c: "GuestCtx") -> None:
    """The log was forced: no inode is pinned any more."""
    c.pin = [PIN_NONE] * len(c.pin)
    c.pin_sure = [PIN_NONE] * len(c.pin)


def _unsure(c: "GuestCtx", f: int, level: int) -> None:
    """Raise Skip when whether the kernel forces the log for ``f`` at ``level`` hangs on
    timestamp updates alone (the spec's inode is clean and no sure pin reaches ``level``):
    the answer depends on the clock, not on the operations."""
    if not inode_meta_dirty(c.L, c.s, f) and c.pin_sure[f] < level <= c.pin[f]:
        raise Skip()


def _sync(c: "GuestCtx", f: int, level: int, action) -> None:
    """An fsync-family op on ``f`` (``level``: PIN_CORE for fdatasync and msync, PIN_TIME
    for fsync): the spec's ``action``, then the shadow's part of xfs_fsync_flush_log; a
    force for ``f`` (the spec's inode had unlogged metadata, or the shadow pin reached
    ``level``) clears its fsync fields."""
    _unsure(c, f, level)
    forced = bool(inode_meta_dirty(c.L, c.s, f)) or c.pin[f] >= level
    c.step(action)
    _force_if_pinned(c, f, level)
    if forced:
        c.fresh[f] = False


def _guest_call(c: GuestCtx, line: str) -> None:
    """Run one guest command; compare its errno with ``c.expect``; raise Mismatch."""
    try:
        c.g.cmd(line)
        got = None
    except CommandError as e:
        got = e.errno
    if got != c.expect:
        want = "success" if c.expect is None else _errname(c.expect)
        have = "success" if got is None else _errname(got)
        raise Mismatch(f"kernel {have}, spec predicts {want} ({line})")


def _errname(e: int) -> str:
    if e == SIGBUS:
        return "SIGBUS"
    return errno.errorcode.get(e, str(e))


class _LogsInodeCore:
    """Mixin for an op of the loop-XFS oracle that logs ``self.file``'s inode core
    (fallocate's xfs_update_prealloc_flags, ftruncate's xfs_setattr_size): after its spec
    side, the shadow pin (:data:`PIN_CORE`)."""

    def spec(self, c):
        super().spec(c)
        _pin(c, self.file, PIN_CORE)


@dataclass(frozen=True)
class PWrite(D.PWrite):
    __doc__ = D.PWrite.__doc__

    def spec(self, c):
        grows = (self.seg + self.nsegs) * SEG > c.nbytes[self.file]
        super().spec(c)
        _pin(c, self.file, PIN_CORE if grows else PIN_TIME)

    def guest(self, c):
        _guest_call(c, f"pwrite {self.file} {self.seg * SEG} {self.nsegs * SEG} {0x40 + self.token}")


@dataclass(frozen=True)
class Falloc(_LogsInodeCore, D.Falloc):
    __doc__ = D.Falloc.__doc__

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} 0 {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class PunchHole(_LogsInodeCore, D.PunchHole):
    __doc__ = D.PunchHole.__doc__

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} {FALLOC_PUNCH} {self.blk * BLOCK} {BLOCK}")


@dataclass(frozen=True)
class Clone(D.Clone):
    __doc__ = D.Clone.__doc__

    def spec(self, c):
        empty = c.nbytes[self.src] == 0  # FICLONE of an empty file remaps nothing
        super().spec(c)
        if not empty:
            _remapped(c, self.src, self.dst)

    def guest(self, c):
        _guest_call(c, f"clone {self.src} {self.dst}")


@dataclass(frozen=True)
class CloneRange(D.CloneRange):
    __doc__ = D.CloneRange.__doc__

    def spec(self, c):
        super().spec(c)
        _remapped(c, self.src, self.dst)

    def guest(self, c):
        _guest_call(c, f"clonerange {self.src} {self.soff * BLOCK} {c.clone_len} {self.dst} "
                       f"{self.doff * BLOCK}")


@dataclass(frozen=True)
class Fdatasync(D.Fsync):
    __doc__ = D.Fsync.__doc__

    def spec(self, c):
        _sync(c, self.file, PIN_CORE, A.Fdatasync(self.file))

    def guest(self, c):
        _guest_call(c, f"fdatasync {self.file}")


@dataclass(frozen=True)
class Trunc(_LogsInodeCore, D.Trunc):
    __doc__ = D.Trunc.__doc__

    def guest(self, c):
        _guest_call(c, f"ftrunc {self.file} {self.blocks * BLOCK}")


@dataclass(frozen=True)
class Fsync(Op):
    """fsync(2) of ``file``: spec Fsync (xfs_file_fsync with datasync 0)."""

    file: int

    def __str__(self):
        return f"fsync({file_name(self.file)})"

    def spec(self, c):
        _sync(c, self.file, PIN_TIME, A.Fsync(self.file))

    def guest(self, c):
        _guest_call(c, f"fsync {self.file}")


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
        return (f"zero_range({file_name(self.file)}, off={self.blk * BLOCK + self.lo * SEG}, "
                f"len={(self.hi - self.lo + 1) * SEG})")

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
        _pin(c, self.file, PIN_CORE)

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} {FALLOC_ZERO} {self.blk * BLOCK + self.lo * SEG} "
                       f"{(self.hi - self.lo + 1) * SEG}")


def _aligned(c: GuestCtx, *files) -> None:
    """Skip unless every one of ``files`` ends on a block boundary (collapse, insert and
    dedupe lengths are then the spec's whole blocks)."""
    if any(c.nbytes[f] % BLOCK for f in files):
        raise Skip()


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
            _pin(c, self.file, PIN_CORE)
        else:  # file_modified ran before the EINVAL
            _pin(c, self.file, PIN_CORE if REFUSED_SHIFT_LOGS_CORE[c.kernel] else PIN_TIME,
                 sure=False)

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} {FALLOC_COLLAPSE} {self.blk * BLOCK} {BLOCK}")


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
            _pin(c, self.file, PIN_CORE)
        else:  # file_modified ran before the EINVAL
            _pin(c, self.file, PIN_CORE if REFUSED_SHIFT_LOGS_CORE[c.kernel] else PIN_TIME,
                 sure=False)

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} {FALLOC_INSERT} {self.blk * BLOCK} {BLOCK}")


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
        _pin(c, self.file, PIN_CORE)

    def guest(self, c):
        _guest_call(c, f"falloc {self.file} {FALLOC_UNSHARE} {self.blk * BLOCK} {BLOCK}")


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
        return (f"dedupe({file_name(self.src)}@{self.soff * BLOCK} -> "
                f"{file_name(self.dst)}@{self.doff * BLOCK}, {self.nblk} blk)")

    def check(self, B, F):
        super().check(B, F)
        if self.src == self.dst or self.nblk < 1 or self.soff + self.nblk > B or \
                self.doff + self.nblk > B:
            raise OracleError(f"{self}: not two files' ranges inside {B} blocks")

    def spec(self, c):
        _aligned(c, self.src, self.dst)
        if (self.soff + self.nblk) * BLOCK > c.nbytes[self.src] or \
                (self.doff + self.nblk) * BLOCK > c.nbytes[self.dst]:
            raise Skip()
        L = c.L
        c.dedupe_before = (c.s, list(c.pin), list(c.reflinked))
        c.dedupe_either = c.m.design.dedupe_compare in ("raw-media", "stale-raw-media") and any(
            c.s[L.ext_kind[f][x]] == UNWRITTEN
            for f, x0 in ((self.src, self.soff), (self.dst, self.doff))
            for x in range(x0, x0 + self.nblk))
        c.dedupe_same = _spec_step_or_refused(
            c, A.Dedupe(self.src, self.dst, self.soff, self.doff, self.nblk), None)
        if c.dedupe_same:
            _remapped(c, self.src, self.dst)

    def guest(self, c):
        line = (f"dedupe {self.src} {self.soff * BLOCK} {self.nblk * BLOCK} {self.dst} "
                f"{self.doff * BLOCK}")
        try:
            same = c.g.cmd(line)["same"] == "1"
        except CommandError as e:
            raise Mismatch(f"kernel {_errname(e.errno)}, spec predicts success ({line})") from None
        if same == c.dedupe_same:
            return
        if not c.dedupe_either:
            raise Mismatch(f"kernel dedupe status {'SAME' if same else 'DIFFERS'}, spec "
                           f"{'SAME' if c.dedupe_same else 'DIFFERS'} ({line})")
        # A raw compare of an unwritten extent reads whatever its block held before: which
        # freed block XFS hands out is not the spec allocator's choice, so both outcomes are
        # the spec's; follow the kernel's (hook xfs_reflink_remap_blocks for SAME).
        c.s, c.pin, c.reflinked = c.dedupe_before
        if same:
            d = draft(c.s)
            c.m.design.xfs_reflink_remap_blocks(c.L, d, self.src, self.dst, self.soff,
                                                self.doff, self.nblk, dedupe=True)
            c.s = freeze(d)
            _remapped(c, self.src, self.dst)
        c.dedupe_same = same


@dataclass(frozen=True)
class Map(Op):
    """mmap of all of ``file``'s blocks (offset 0, the sequence's block count x 4 KiB) as
    ``kind``: 'shared' (MAP_SHARED), 'sync' (MAP_SHARED_VALIDATE | MAP_SYNC) or 'private'
    (MAP_PRIVATE).  An existing mapping of the file is unmapped first on both sides.  Spec:
    Munmap, then Mmap(sync) or MmapPrivate."""

    file: int
    kind: str

    def __str__(self):
        return f"mmap({file_name(self.file)}, {self.kind})"

    def check(self, B, F):
        super().check(B, F)
        if self.kind not in MAP_KINDS:
            raise OracleError(f"{self}: kind {self.kind!r} is not one of {', '.join(MAP_KINDS)}")

    def spec(self, c):
        if c.mapped(self.file) != MM_NONE:
            c.step(A.Munmap(0, self.file))
        if self.kind == "private":
            c.step(A.MmapPrivate(0, self.file))
        else:
            c.step(A.Mmap(0, self.file, self.kind == "sync"))

    def guest(self, c):
        _guest_call(c, f"mmap {self.file} {MAP_KINDS.index(self.kind)} {c.blocks * BLOCK}")


@dataclass(frozen=True)
class Unmap(Op):
    """munmap of ``file``'s mapping: spec Munmap.  Skipped when the file is not mapped."""

    file: int

    def __str__(self):
        return f"munmap({file_name(self.file)})"

    def spec(self, c):
        if c.mapped(self.file) == MM_NONE:
            raise Skip()
        c.step(A.Munmap(0, self.file))

    def guest(self, c):
        _guest_call(c, f"munmap {self.file}")


def _page_access(c: GuestCtx, f: int, seg: int) -> bool:
    """Whether the page of ``seg`` is inside i_size: False means the spec predicts SIGBUS
    (its fault is disabled at or past EOF).  Raises Skip when the segment is only partly
    below the kernel's byte i_size (bytes past EOF in the last page are not file data and
    the spec's sizes are whole blocks)."""
    x = seg // SEGS
    if x >= c.s[c.L.size[f]]:
        return False
    if (seg + 1) * SEG > c.nbytes[f]:
        raise Skip()
    return True


def _write_fault(c: GuestCtx, f: int, x: int) -> None:
    """A write fault on ``f``/``x``: on MAP_SYNC, in a design whose IOMAP_F_DIRTY follows
    xfs_ipincount (``sync_fault="iomap-dirty"``, ``iomap_dirty="pinned"``: the kernel's),
    IOMAP_F_DIRTY (and so the log force of dax_finish_sync_fault) also holds for an inode
    only the shadow ``pin`` knows is pinned;
    then the spec's Fault; shared mappings update the timestamps (xfs_write_fault →
    file_update_time)."""
    D = c.m.design
    if c.mapped(f) == MM_SYNC and D.sync_fault == "iomap-dirty" and D.iomap_dirty == "pinned":
        _unsure(c, f, PIN_CORE)
        if inode_meta_dirty(c.L, c.s, f) or c.pin[f] >= PIN_CORE:
            c.fresh[f] = False
        _force_if_pinned(c, f, PIN_CORE)
    c.step(A.Fault(0, f, x, True))
    if c.mapped(f) != MM_PRIVATE:
        _pin(c, f, PIN_TIME)


@dataclass(frozen=True)
class MStore(D.MStore):
    """A store of token ``token`` into segment ``seg`` of ``file`` through its mapping
    (2 KiB memset).  Spec: a write fault (dax_iomap_pte_fault; pfn_mkwrite on a read-only
    PTE; dax_fault_cow_page on MAP_PRIVATE; dax_finish_sync_fault on MAP_SYNC) unless the
    PTE is already writable, then Store.  Past EOF: SIGBUS on both sides.  Skipped when the
    file is not mapped.  (The loop-XFS oracle's MStore maps, stores and msyncs in one op.)"""

    def __str__(self):
        return f"mstore({file_name(self.file)}, off={self.seg * SEG}, t{self.token})"

    def spec(self, c):
        f, x, g = self.file, self.seg // SEGS, self.seg % SEGS
        mm = c.mapped(f)
        if mm == MM_NONE:
            raise Skip()
        if not _page_access(c, f, self.seg):
            c.expect = SIGBUS
            return
        if c.s[c.L.pte_kind[0][f][x]] != (PTE_ANON if mm == MM_PRIVATE else PTE_RW):
            _write_fault(c, f, x)
        c.step(A.Store(0, f, x, g, self.token))

    def guest(self, c):
        _guest_call(c, f"store {self.file} {self.seg * SEG} {SEG} {0x40 + self.token}")


@dataclass(frozen=True)
class MTouch(Op):
    """A write fault on block ``blk`` of ``file`` with no new data: the first byte of the
    page is loaded and stored back through the mapping.  Spec: a write fault unless the PTE
    is already writable (or an anonymous copy on MAP_PRIVATE).  Past EOF: SIGBUS on both
    sides.  Skipped when the file is not mapped."""

    file: int
    blk: int

    def __str__(self):
        return f"mtouch({file_name(self.file)}, off={self.blk * BLOCK})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.blk < B:
            raise OracleError(f"{self}: block {self.blk} exceeds {B} blocks")

    def spec(self, c):
        f, x = self.file, self.blk
        mm = c.mapped(f)
        if mm == MM_NONE:
            raise Skip()
        if not _page_access(c, f, x * SEGS):
            c.expect = SIGBUS
            return
        if c.s[c.L.pte_kind[0][f][x]] != (PTE_ANON if mm == MM_PRIVATE else PTE_RW):
            _write_fault(c, f, x)

    def guest(self, c):
        _guest_call(c, f"touch {self.file} {self.blk * BLOCK}")


@dataclass(frozen=True)
class MLoad(Op):
    """A load of segment ``seg`` of ``file`` through its mapping (2 KiB memcpy), compared
    with the spec's load_view.  Spec: a read fault (dax_load_hole for a hole or unwritten
    extent, a read-only pfn PTE otherwise) unless a PTE is present.  Past EOF: SIGBUS on
    both sides.  Skipped when the file is not mapped."""

    file: int
    seg: int

    def __str__(self):
        return f"mload({file_name(self.file)}, off={self.seg * SEG})"

    def check(self, B, F):
        super().check(B, F)
        if not 0 <= self.seg < B * SEGS:
            raise OracleError(f"{self}: segment {self.seg} exceeds {B} blocks")

    def spec(self, c):
        f, x, g = self.file, self.seg // SEGS, self.seg % SEGS
        if c.mapped(f) == MM_NONE:
            raise Skip()
        if not _page_access(c, f, self.seg):
            c.expect = SIGBUS
            return
        if c.s[c.L.pte_kind[0][f][x]] == PTE_NONE:
            c.step(A.Fault(0, f, x, False))
        c.load_want = load_view(c.L, c.s, 0, f, x, g)

    def guest(self, c):
        line = f"load {self.file} {self.seg * SEG} {SEG}"
        if c.expect is not None:
            _guest_call(c, line)
            return
        try:
            got = c.g.cmd(line)["segs"]
        except CommandError as e:
            raise Mismatch(f"kernel {_errname(e.errno)}, spec predicts success ({line})") from None
        want = _summary(D.token_bytes(c.load_want))
        if got != want:
            raise Mismatch(f"load through the mapping returns {_names(got)}, spec "
                           f"{_names(want)}")


@dataclass(frozen=True)
class Msync(Op):
    """msync(MS_SYNC) of ``file``'s whole mapping: spec Msync on a shared or MAP_SYNC
    mapping (dax_writeback_mapping_range + log force); nothing on a MAP_PRIVATE one.
    Skipped when the file is not mapped."""

    file: int

    def __str__(self):
        return f"msync({file_name(self.file)})"

    def spec(self, c):
        mm = c.mapped(self.file)
        if mm == MM_NONE:
            raise Skip()
        if mm != MM_PRIVATE:
            _sync(c, self.file, PIN_CORE, A.Msync(0, self.file))

    def guest(self, c):
        _guest_call(c, f"msync {self.file}")


CRASH_KINDS = ("kill", "shutdown")
"""``Crash.how``: SIGKILL of QEMU + reboot, or XFS_IOC_GOINGDOWN(NOLOGFLUSH) + remount."""


@dataclass(frozen=True)
class Crash(Op):
    """A crash and log recovery, the last op of a sequence: ``how`` 'kill' (SIGKILL of
    QEMU, reboot on the same pmem image, mount) or 'shutdown' (XFS_IOC_GOINGDOWN with
    NOLOGFLUSH, umount, mount).  Spec: the set of allowed post-crash states (module
    docstring); the recovered kernel state must be one of them."""

    how: str = "kill"

    def __str__(self):
        return f"crash({self.how})"

    def check(self, B, F):
        if self.how not in CRASH_KINDS:
            raise OracleError(f"{self}: how {self.how!r} is not one of {', '.join(CRASH_KINDS)}")

    def spec(self, c):
        """Nothing to step: the allowed states are computed from ``c.s`` once the kernel
        has recovered (:func:`crash_members`)."""

    def guest(self, c):
        if self.how == "kill":
            c.g.crash()
            c.kills += 1
        else:
            c.g.cmd("shutdown")
        c.g.cmd("mount xfs dax=always")
        c.g.cmd(f"reopen {c.L.bounds.files}")


def crash_members(c: GuestCtx, every_subset: bool = False):
    """The spec's allowed post-crash states from ``c.s``, as ``(label, state)`` pairs
    (deduplicated): the state after the Crash action with every dirty cache line evicted
    first (what QEMU shows: it has no cache model) and, with ``every_subset``, with each
    subset of them evicted.  The log is as the spec's last log force left it: the guest
    runs with the XFS log worker's period at its maximum, so nothing pushes the log in the
    background during a sequence.  A generator: the all-evicted member comes first."""
    L, s, m = c.L, c.s, c.m
    dirty = [(b, g) for b in L.phys for g in L.segs if s[L.cache[b][g]] != 0]
    subsets = [tuple(dirty)]
    if every_subset:
        subsets += [sub for k in range(len(dirty)) for sub in combinations(dirty, k)]
    seen = set()
    for sub in subsets:
        t = s
        for b, g in sub:
            t = m.next_state(t, A.Evict(b, g))
        t = m.next_state(t, A.Crash())
        if t is not None and t not in seen:
            seen.add(t)
            yield f"{len(sub)} of {len(dirty)} dirty cache lines evicted", t


# ----------------------------------------------------------------------------- comparison
def _summary(data: bytes) -> str:
    """daxguest's segment summary of ``data``: one hex byte per 2 KiB segment, 'xx' where the
    segment's bytes differ, comma-separated."""
    out = []
    for i in range(0, len(data), SEG):
        sg = data[i:i + SEG]
        out.append(f"{sg[0]:02x}" if sg.count(sg[0]) == len(sg) else "xx")
    return ",".join(out)


def _names(summary: str) -> str:
    names = []
    for h in summary.split(",") if summary else []:
        v = -1 if h == "xx" else int(h, 16)
        names.append("0" if v == 0 else f"t{v - 0x40}" if 0x41 <= v <= 0x43 else
                     "mixed" if v < 0 else f"0x{h}")
    return "[" + " ".join(names) + "]"


def _block_map(state: dict, nblocks: int) -> list:
    """daxguest's ``ext=`` field as :func:`~..kernel.block_map` does FIEMAP: per block None
    or (physical block, shared, unwritten)."""
    exts = []
    if state["ext"] != "-":
        for e in state["ext"].split(","):
            lo, ph, ln, fl = e.split(":")
            exts.append((int(lo), int(ph), int(ln), int(fl, 16)))
    out = []
    for x in range(nblocks):
        pos, hit = x * BLOCK, None
        for lo, ph, ln, fl in exts:
            if lo <= pos < lo + ln:
                hit = ((ph + pos - lo) // BLOCK, bool(fl & 0x2000), bool(fl & 0x800))
                break
        out.append(hit)
    return out


def _states(c: GuestCtx) -> list:
    return [c.g.cmd(f"state {f}") for f in c.L.files]


def compare(c: GuestCtx, states: list, exact_size: bool = True) -> None:
    """The guest's per-file ``state`` answers against the spec state ``c.s``: i_size (bytes
    with ``exact_size``, else whole blocks), contents (segment summaries, up to the kernel's
    i_size), STATX_ATTR_DAX (the spec's S_DAX) and the extent map.  Raises Mismatch."""
    L, s = c.L, c.s
    for f in L.files:
        st = states[f]
        size = int(st["size"])
        name = file_name(f)
        if exact_size and size != c.nbytes[f]:
            raise Mismatch(f"{name}: kernel i_size {size} B, expected {c.nbytes[f]} B")
        if s[L.size[f]] != -(-size // BLOCK):
            raise Mismatch(f"{name}: spec size {s[L.size[f]]} blocks, kernel {size} B")
        saved, c.nbytes[f] = c.nbytes[f], size
        try:
            want = _summary(D.expected_bytes(c, f))
        finally:
            c.nbytes[f] = saved
        if st["segs"] != want:
            raise Mismatch(f"{name}: kernel reads {_names(st['segs'])}, spec {_names(want)}")
        if int(st["dax"]) != s[L.s_dax[f]]:
            raise Mismatch(f"{name}: kernel STATX_ATTR_DAX={st['dax']}, spec S_DAX={s[L.s_dax[f]]}")
    D.compare_maps(c, [_block_map(states[f], s[L.size[f]]) for f in L.files])


def _compare_crash(c: GuestCtx, states: list) -> str:
    """The recovered kernel state against every allowed member; returns the matching
    member's label, raises Mismatch naming the closest difference when none matches."""
    first, n = None, 0
    keep = c.s
    for every in (False, True):
        for label, t in crash_members(c, every):
            n += 1
            c.s = t
            try:
                compare(c, states, exact_size=False)
                return label
            except Mismatch as e:
                first = first or f"{e} (member: {label})"
            finally:
                c.s = keep
    raise Mismatch(f"after recovery no allowed post-crash state matches "
                   f"({n} members tried); e.g. {first}")


def _check_warnings(c: GuestCtx, op, before: int) -> None:
    """The console against the spec's sticky ``warning`` field (``before``: its value before
    ``op``): a WARN/BUG line while the spec has reached no warning is a mismatch, and so is
    a warning the spec reaches in ``op`` when the kernel printed none this boot (its
    WARN_ON_ONCE may have fired in an earlier sequence of the same boot)."""
    lines = c.g.kernel_warnings()
    now = c.s[c.L.warning]
    if lines and now == 0:
        raise Mismatch(f"kernel warned after {op}: {lines[0]} (the spec predicts no warning)")
    if now and not before and not c.g.warned:
        raise Mismatch(f"spec predicts a kernel warning after {op} "
                       f"({list(WARNINGS)[now - 1]!r}); the kernel printed none")


# ----------------------------------------------------------------------------- runner
@dataclass
class Outcome:
    """Result of one sequence: ``status`` 'match', 'mismatch' or 'discarded'; ``ops_run``
    ops executed on the kernel; ``message`` what differed; ``crash`` None, or the crash
    kind run and ``member`` the allowed post-crash state it matched."""

    status: str
    ops_run: int
    message: str = ""
    crash: str | None = None
    member: str = ""


def run_sequence(guest: DaxGuest, kernel: str, files: int, blocks: int, ops,
                 settings: dict | None = None) -> Outcome:
    """Run ``ops`` on fresh files f0.. in the guest's DAX XFS (mounted by :func:`prepare`)
    and on ``xfs-<kernel>`` (with ``settings`` changed, e.g. a deliberately wrong
    ``{"sync_fault": "never"}``) at ``files`` x ``blocks``, comparing after every op (module
    docstring).  Raises OracleError for ops outside the bounds, GuestError when the guest
    dies or hangs."""
    if files not in (2, 3) or blocks not in (1, 2, 3):
        raise OracleError(f"the real-DAX oracle runs 2-3 files of 1-3 blocks, not {files} x {blocks}")
    for op in ops:
        op.check(blocks, files)
    model = D.model_for(files, blocks, _design(kernel, settings))
    c = GuestCtx(model, guest, blocks, kernel)
    guest.cmd(f"reset {files}")
    guest.kernel_warnings()
    done, warned = 0, 0
    for i, op in enumerate(ops):
        c.expect = None
        journal = _journal(c)
        try:
            op.spec(c)
        except Skip:
            continue
        except Discard as e:
            return Outcome("discarded", done, f"op {i} {op}: spec cannot express {e} "
                                              f"(ENOSPC at these bounds)")
        if _journal(c) != journal:  # the log was forced: every inode's changes are in it
            _forced(c)
        try:
            op.guest(c)
            done += 1
            if isinstance(op, Crash):
                member = _compare_crash(c, _states(c))
                _check_warnings(c, op, warned)
                return Outcome("match", done, crash=op.how, member=member)
            compare(c, _states(c))
            _check_warnings(c, op, warned)
            warned = c.s[c.L.warning]
        except Mismatch as e:
            return Outcome("mismatch", done, f"after op {i} {op}: {e}",
                           crash=op.how if isinstance(op, Crash) else None)
    return Outcome("match", done)


_DESIGNS: dict = {}


def check_settings(kernel: str, settings: dict) -> None:
    """Raise ValueError (one line) for an unknown kernel, setting name or setting value."""
    if kernel not in SETTINGS:
        raise ValueError(f"unknown kernel {kernel!r}: choose one of {', '.join(SETTINGS)}")
    known = kernel_design(kernel).settings()
    for key, value in settings.items():
        if key not in known:
            raise ValueError(f"unknown setting {key!r} (settings: {', '.join(sorted(known))})")
    kernel_design(kernel).variant(**settings)  # DesignError (a ValueError) for a bad value


def _design(kernel: str, settings: dict | None = None):
    """A design function for :func:`~..differential.model_for`: ``xfs-<kernel>`` with
    ``settings`` changed (one object per kernel and settings, so the model cache keys on
    it).  Raises DesignError for an unknown setting or value."""
    key = (kernel, tuple(sorted((settings or {}).items())))
    if key not in _DESIGNS:
        kernel_design(kernel).variant(**dict(key[1]))  # DesignError now, not mid-run

        def make(files, blocks):
            d = kernel_design(kernel, files, blocks)
            return d.variant(name=f"{d.name}+{','.join(f'{k}={v}' for k, v in key[1])}",
                             **dict(key[1])) if key[1] else d
        _DESIGNS[key] = make
    return _DESIGNS[key]


def prepare(guest: DaxGuest, fresh: bool) -> None:
    """mkfs.xfs -m reflink=1 (when ``fresh``) and mount -o dax=always in the guest."""
    if fresh:
        guest.cmd("mkfs xfs", timeout=120)
    guest.cmd("mount xfs dax=always")


def sequences(max_ops: int = 10):
    """Hypothesis strategy of ``(files, blocks, ops)``: 3 files of 2 blocks or 2 files of 3
    blocks, 1..``max_ops`` ops weighted towards writes and mapping traffic (the crash at
    the end is :func:`run`'s choice)."""
    from hypothesis import strategies as st

    @st.composite
    def strat(draw):
        files, blocks = draw(st.sampled_from(((3, 2), (2, 3))))
        fi = st.integers(0, files - 1)
        bl = st.integers(0, blocks - 1)
        tok = st.integers(1, 3)
        nseg = blocks * SEGS
        seg = st.integers(0, nseg - 1)

        @st.composite
        def pwrite(d):
            g = d(seg)
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

        @st.composite
        def dedupe(d):
            a, n = d(fi), d(st.integers(1, blocks))
            return Dedupe(a, d(st.integers(0, blocks - n)), d(fi.filter(lambda b: b != a)),
                          d(st.integers(0, blocks - n)), n)

        @st.composite
        def zero_range(d):
            lo = d(st.integers(0, SEGS - 1))
            return ZeroRange(d(fi), d(bl), lo, d(st.integers(lo, SEGS - 1)))

        op = st.one_of(
            pwrite(), pwrite(),
            st.builds(Map, fi, st.sampled_from(MAP_KINDS)),
            st.builds(MStore, fi, seg, tok), st.builds(MStore, fi, seg, tok),
            st.builds(MLoad, fi, seg), st.builds(MTouch, fi, bl),
            st.builds(Msync, fi), st.builds(Unmap, fi),
            st.builds(Falloc, fi, bl), st.builds(PunchHole, fi, bl),
            clone(), clonerange(), dedupe(),
            zero_range(),
            st.builds(Unshare, fi, bl),
            st.builds(CollapseRange, fi, st.integers(0, blocks - 2)),
            st.builds(InsertRange, fi, st.integers(0, blocks - 2)),
            st.builds(Fdatasync, fi), st.builds(Fsync, fi),
            st.builds(Trunc, fi, st.integers(0, blocks)))
        n = draw(st.integers(1, max_ops))
        return files, blocks, draw(st.lists(op, min_size=n, max_size=n))
    return strat()


def shrink(run_ops, ops: list, message: str) -> tuple[list, str]:
    """Greedy one-op-at-a-time removal: drop each op in turn while ``run_ops(ops)`` (an
    :class:`Outcome`) is still a mismatch, until no single removal keeps it.  Returns the
    smaller op list and its mismatch message.  A Crash op is kept last."""
    changed = True
    while changed:
        changed = False
        for i in range(len(ops)):
            trial = ops[:i] + ops[i + 1:]
            if not trial:
                continue
            out = run_ops(trial)
            if out.status == "mismatch":
                ops, message, changed = trial, out.message, True
                break
    return ops, message


@dataclass
class Summary:
    """What :func:`run` did on one kernel: ``sequences`` run (including shrinking replays),
    ``operations`` on the kernel, ``matched``/``discarded`` sequences, crash points by kind
    (``kills``, ``shutdowns``), ``boots`` and their seconds, ``mismatches`` ``(ops, message)`` after
    shrinking, wall ``seconds``."""

    kernel: str
    release: str = ""
    sequences: int = 0
    operations: int = 0
    matched: int = 0
    discarded: int = 0
    kills: int = 0
    shutdowns: int = 0
    boots: int = 0
    boot_seconds: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A human-readable report, one line per item."""
        boot = (f", {self.boots} boots ({min(self.boot_seconds):.1f}-"
                f"{max(self.boot_seconds):.1f} s)" if self.boot_seconds else "")
        out = [f"real-DAX oracle on {self.kernel} ({self.release}): {self.sequences} sequences, "
               f"{self.operations} operations, {self.matched} matched, {self.discarded} discarded "
               f"(spec bounds), crash points {self.kills + self.shutdowns} ({self.kills} kill+reboot, "
               f"{self.shutdowns} shutdown+remount)"
               f"{boot}, {len(self.mismatches)} mismatch{'es' if len(self.mismatches) != 1 else ''} "
               f"in {self.seconds:.1f}s"]
        for ops, msg in self.mismatches:
            out.append(f"MISMATCH: {msg}")
            out.extend(f"  {i}. {o}" for i, o in enumerate(ops))
        return out


def run(guest: DaxGuest, kernel: str, runs: int, seed: int, max_ops: int = 10,
        crash_rate: float = 0.1, kill_share: float = 0.2,
        settings: dict | None = None) -> Summary:
    """Hypothesis generates sequences (seeded with ``seed``) until ``runs`` were not
    discarded, each run by :func:`run_sequence` on the booted ``guest``; a share
    ``crash_rate`` of them end in a crash, of which a share ``kill_share`` kill QEMU (a
    reboot, 6-9 s) and the others shut XFS down; the first mismatch is shrunk to a small op
    list (:func:`shrink`); ``settings`` change the spec design as in :func:`run_sequence`.
    Returns a :class:`Summary`.  Raises OracleError for bad
    counts or rates, GuestError when the guest dies or hangs."""
    if kernel not in SETTINGS:
        raise OracleError(f"unknown kernel {kernel!r}: choose one of {', '.join(SETTINGS)}")
    if not 1 <= runs <= D.MAX_RUNS or not 1 <= max_ops <= D.MAX_OPS:
        raise OracleError(f"runs must be in 1..{D.MAX_RUNS} and max-ops in 1..{D.MAX_OPS}")
    if not (0 <= crash_rate <= 1 and 0 <= kill_share <= 1):
        raise OracleError("crash rate and kill share must be in 0..1")
    D.hypothesis_home()
    from hypothesis import HealthCheck, Phase, assume, given, seed as hseed
    from hypothesis import settings as hsettings

    summary = Summary(kernel, guest.release)
    failing: list = []
    t0 = time.monotonic()

    def once(files, blocks, ops) -> Outcome:
        out = run_sequence(guest, kernel, files, blocks, ops, settings)
        summary.sequences += 1
        summary.operations += out.ops_run
        return out

    # Hypothesis generates; a mismatch is shrunk by :func:`shrink` (one pass per op, at most
    # len(ops)**2 replays) rather than by hypothesis, whose shrinker replays a sequence
    # with a crash hundreds of times, a reboot each.
    @hseed(seed)
    @hsettings(max_examples=runs, deadline=None, database=None, derandomize=False,
               suppress_health_check=list(HealthCheck), print_blob=False,
               report_multiple_bugs=False, phases=(Phase.explicit, Phase.generate))
    @given(sequences(max_ops))
    def prop(seq):
        files, blocks, ops = seq
        # the crash is drawn here, not by hypothesis (whose draws favour the bounds), so
        # the rates are what was asked for
        r = random.Random(f"{seed}:{ops!r}").random()
        if r < crash_rate:
            ops = ops + [Crash("kill" if r < crash_rate * kill_share else "shutdown")]
        out = once(files, blocks, ops)
        if out.status == "discarded":
            summary.discarded += 1
            assume(False)
        if out.status == "mismatch":
            failing[:] = [files, blocks, ops, out.message]
            raise AssertionError(out.message)
        summary.matched += 1
        if out.crash == "kill":
            summary.kills += 1
        elif out.crash == "shutdown":
            summary.shutdowns += 1

    try:
        prop()
    except AssertionError:
        if not failing:  # pragma: no cover - hypothesis internal failure
            raise
        files, blocks, ops, msg = failing
        ops, msg = shrink(lambda o: once(files, blocks, o), ops, msg)
        summary.mismatches.append(([str(o) for o in ops], msg))
    summary.boots = guest.boots
    summary.boot_seconds = list(guest.boot_seconds)
    summary.seconds = time.monotonic() - t0
    return summary
