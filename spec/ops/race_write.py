"""The split write fault on a shared mapping (issue 25): ``dax_write_fault``, with the
zeroing of a newly allocated block (IOMAP_F_NEW) as a step of its own, declared with the
public :class:`~daxcheck.spec.ops.split.Step` API.  A separate family, so the race designs
that split only read and private faults (``dax_fault``) keep their state spaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..kernel import dax, xfs_iomap
from ..kernel.dax_wait import entry_is_pmd
from ..state import HOLE, MM_SHARED, MM_SYNC, PTE_NONE, UNWRITTEN, WRITTEN
from ..vocab import And, If, Not, Or, draft, require, store, when
from .race_faults import entry_if, fault_mmaplock
from .split import DONE, SplitOp, Step, sleep_on, split, take_locks


@split
@dataclass(frozen=True)
class DaxWriteFault(SplitOp):
    """A 4 KiB write fault on a MAP_SHARED (or MAP_SYNC) mapping split at its locks and at
    the zeroing of a new block (dax_iomap_pte_fault with IOMAP_WRITE): step
    ``xfs_filemap_fault`` (MMAPLOCK shared when the design takes it; i_size checked; no PTE
    yet), step ``grab_mapping_entry`` (if the design locks the entry before ->iomap_begin:
    lock it, or sleep on its wait queue while another thread holds it and retry when
    ``dax_wake_entry`` wakes this one), step ``iomap_begin`` (->iomap_begin(IOMAP_WRITE)
    allocates a hole's block: zeroed and written under the ILOCK with ``xfs_bmapi_zero`` (XFS_BMAPI_ZERO), else unwritten and reported
    IOMAP_F_NEW, as an unwritten extent is; a shared extent is CoW'd; no free block:
    VM_FAULT_SIGBUS, the fault ends), step ``dax_iomap_zero`` (a block reported new is
    zeroed and converted: ``D.dax_iomap_zero``), step ``finish_fault`` (the entry lock if
    not taken yet; dax_insert_entry and a writable PTE over a written extent), step
    ``dax_unlock_entry``.  Two faults on one new block that both see it new both zero it:
    the second wipes what was stored through the first's PTE in between."""

    name: ClassVar[str] = "dax_write_fault"
    HOLDS: ClassVar[tuple] = ("entry", "mmap-shared")
    RETRY: ClassVar[frozenset] = frozenset({1})
    NEXT: ClassVar[dict] = {1: (1, 2), 2: (3, 5)}
    STEPS: ClassVar[tuple] = (
        Step("xfs_filemap_fault", takes=fault_mmaplock),
        Step("grab_mapping_entry", sleeps=True),
        Step("iomap_begin"),
        Step("dax_iomap_zero"),
        Step(
            "finish_fault",
            takes=lambda op, D, L: entry_if(op, not D.dax_fault_grab_entry_first()),
        ),
        Step("dax_unlock_entry", drops=lambda op, D, L: op.held(D, L)),
    )
    thread: int
    proc: int
    file: int
    idx: int
    step: int

    def held(self, D, L):
        """Locks held after ``finish_fault`` (dropped by ``dax_unlock_entry``): MMAPLOCK and
        the entry lock, each when the design takes it."""
        return self.needs(D, L, 0) + (self.lock("entry"),)

    def xfs_filemap_fault(self, m, L, D, s):
        n, f, x = self.proc, self.file, self.idx
        mm = s[L.mmap_mode[n][f]]
        ok = And(
            Or(mm == MM_SHARED, mm == MM_SYNC), x < s[L.size[f]], s[L.pte_kind[n][f][x]] == PTE_NONE
        )
        if not require(ok):
            return None
        return draft(s), 1

    def grab_mapping_entry(self, m, L, D, s):
        """With the design's entry lock before ->iomap_begin: lock the DAX entry, or, when
        another thread holds it, sleep on its wait queue (wait_entry_unlocked, keyed by
        ``D.dax_entry_waitqueue``) and retry once woken; else nothing yet."""
        f, x, t = self.file, self.idx, self.thread
        if not D.dax_fault_grab_entry_first():
            return draft(s), 2
        holder = s[L.xa_lock[f][x]]
        busy = And(holder != 0, holder != t + 1)
        key = D.dax_entry_waitqueue(L, s, f, x, entry_is_pmd(L, s, f, x))
        d = draft(s)
        when(d, busy, lambda d: sleep_on(L, d, t, key))
        when(d, Not(busy), lambda d: take_locks(L, d, (self.lock("entry"),), t))
        return d, If(busy, 1, 2)

    def iomap_begin(self, m, L, D, s):
        f, x, t = self.file, self.idx, self.thread
        d = draft(s)
        plan, ok = xfs_iomap.write_plan(D, L, draft(s), f, x, "fault")
        kd, old, shared, b = plan
        if D.xfs_bmapi_zero(L, "fault"):
            new = False
            when(d, ok, lambda d: xfs_iomap.write_effects(D, L, d, f, x, (), "fault", plan))
        else:
            new = And(ok, Not(shared), Or(kd == HOLE, kd == UNWRITTEN))

            def alloc(d):  # xfs_bmapi_write without XFS_BMAPI_ZERO: an unwritten extent
                D.dax_iomap_iter_new(L, d, f, x, "fault")
                d[L.ext_kind[f][x]] = UNWRITTEN
                d[L.ext_pblk[f][x]] = b
                store(d, L.refcount, b, 1)

            when(d, And(new, kd == HOLE), alloc)
            when(
                d,
                And(ok, Not(new)),
                lambda d: xfs_iomap.write_effects(D, L, d, f, x, (), "fault", plan),
            )
        d[L.th_kind[t]] = If(new, 1, 0)
        d[L.th_pblk[t]] = If(kd == HOLE, b, old)
        return d, If(ok, 3, 5)

    def dax_iomap_zero(self, m, L, D, s):
        f, x, t = self.file, self.idx, self.thread
        d = draft(s)
        new = s[L.th_kind[t]] == 1
        when(d, new, lambda d: D.dax_iomap_zero(L, d, f, x, s[L.th_pblk[t]]))
        return d, 4

    def finish_fault(self, m, L, D, s):
        n, f, x = self.proc, self.file, self.idx
        d = draft(s)

        def insert(d):
            dax.break_pmd(D, L, d, f)  # grab_mapping_entry's PMD downgrade
            dax.dax_insert_pfn(D, L, d, n, f, x, True)

        when(d, s[L.ext_kind[f][x]] == WRITTEN, insert)
        return d, 5

    def dax_unlock_entry(self, m, L, D, s):
        return draft(s), DONE

    @classmethod
    def op_instances(cls, L, D):
        return [dict(proc=n, file=f, idx=x) for n in L.procs for f in L.files for x in L.blks]
