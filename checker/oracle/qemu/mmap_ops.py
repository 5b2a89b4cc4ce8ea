"""The real-DAX oracle's mapping and crash operations, run in the guest.

mmap (MAP_SHARED, MAP_SYNC, MAP_PRIVATE), munmap, stores and loads through a mapping, a
write fault, msync, and a crash (QEMU killed, or XFS shut down) with the allowed
post-crash states (:func:`crash_members`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from ....spec import ops as A
from ....spec.kernel.views import load_view
from ....spec.kernel.xfs_log import inode_meta_dirty
from ....spec.state import MM_NONE, MM_PRIVATE, MM_SYNC, PTE_ANON, PTE_NONE, PTE_RW, SEGS, file_name
from .. import ops as D
from ..kernel import BLOCK
from ..ops import SEG, Mismatch, Op, OracleError, Skip
from .guest import CommandError
from .shadows import (
    MAP_KINDS,
    PIN_CORE,
    PIN_TIME,
    SIGBUS,
    GuestCtx,
    errname,
    force_if_pinned,
    fsync_step,
    guest_call,
    pin_inode,
    seg_names,
    seg_summary,
    skip_if_unsure,
)


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
        guest_call(c, f"mmap {self.file} {MAP_KINDS.index(self.kind)} {c.blocks * BLOCK}")


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
        guest_call(c, f"munmap {self.file}")


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
        skip_if_unsure(c, f, PIN_CORE)
        if inode_meta_dirty(c.L, c.s, f) or c.pin[f] >= PIN_CORE:
            c.fresh[f] = False
        force_if_pinned(c, f, PIN_CORE)
    c.step(A.Fault(0, f, x, write=True))
    if c.mapped(f) != MM_PRIVATE:
        pin_inode(c, f, PIN_TIME)


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
        guest_call(c, f"store {self.file} {self.seg * SEG} {SEG} {0x40 + self.token}")


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
        guest_call(c, f"touch {self.file} {self.blk * BLOCK}")


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
            c.step(A.Fault(0, f, x, write=False))
        c.load_want = load_view(c.L, c.s, 0, f, x, g)

    def guest(self, c):
        line = f"load {self.file} {self.seg * SEG} {SEG}"
        if c.expect is not None:
            guest_call(c, line)
            return
        try:
            got = c.g.cmd(line)["segs"]
        except CommandError as e:
            raise Mismatch(f"kernel {errname(e.errno)}, spec predicts success ({line})") from None
        want = seg_summary(D.token_bytes(c.load_want))
        if got != want:
            raise Mismatch(
                f"load through the mapping returns {seg_names(got)}, spec {seg_names(want)}"
            )


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
            fsync_step(c, self.file, PIN_CORE, A.Msync(0, self.file))

    def guest(self, c):
        guest_call(c, f"msync {self.file}")


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


def crash_members(c: GuestCtx, *, every_subset: bool = False):
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
