"""A lost wakeup on the DAX entry wait table (issue 25), written from the public API alone:
a PMD fault that finds a 4 KiB entry locked sleeps on the wait queue keyed by the PMD's
index, while the 4 KiB fault's dax_unlock_entry wakes the queue keyed by its own index, so
the PMD fault sleeps forever.

The kernel path: 'dax: Fix missed wakeup with PMD faults' (Matthew Wilcox, 2019, 23c84eb78375:
"RocksDB can hang indefinitely when using a DAX file ... we use the wrong index in the hash
and end up waiting on the wrong waitqueue").  The waiter's key must be the index of the entry
it found (dax_entry_waitqueue rounds down only for a PMD entry).

    daxcheck check --livelock --designs tests/user_files/lost_wakeup.py \\
                   --design pmd-wait-wrong-key --design pmd-wait-fall-back \\
                   --design pmd-wait-entry-key
"""
from dataclasses import dataclass, fields
from typing import ClassVar

from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.kernel.dax_wait import entry_is_pmd
from daxcheck.spec.ops.split import DONE, SplitOp, Step, sleep_on, split, take_locks
from daxcheck.spec.state import Bounds
from daxcheck.spec.vocab import And, If, draft, when

PTE_INDEX = 1  # the 4 KiB entry inside the PMD range the PMD fault runs into


def pmd_fault_start(op, m, L, D, s):
    """dax_iomap_pmd_fault: the fault starts (its checks are not what this file is about)."""
    return draft(s), 1


def nothing(op, m, L, D, s):
    """A step that only takes or drops the locks its Step declares."""
    return draft(s)


def grab_mapping_entry(op, m, L, D, s):
    """grab_mapping_entry(PMD order) -> get_unlocked_entry: the 4 KiB entry at PTE_INDEX is
    locked by another thread: wait_entry_unlocked sleeps on its key and retries when woken;
    unlocked: lock it (the PMD fault then falls back to PTEs).  With the kernel's fix
    (``fall_back``) a conflicting 4 KiB entry makes the fault return at once (fall back to a
    PTE fault) without waiting."""
    f, x, t = op.file, PTE_INDEX, op.thread
    holder = s[L.xa_lock[f][x]]
    busy = And(holder != 0, holder != t + 1)
    pmd = True if D.wait_on_pmd_index else entry_is_pmd(L, s, f, x)
    key = D.dax_entry_waitqueue(L, s, f, x, pmd)
    d = draft(s)
    if D.fall_back:
        when(d, busy == False, lambda d: take_locks(L, d, (op.lock("entry", x),), t))  # noqa: E712
        return d, If(busy, DONE, 2)
    when(d, busy, lambda d: sleep_on(L, d, t, key))
    when(d, busy == False, lambda d: take_locks(L, d, (op.lock("entry", x),), t))  # noqa: E712
    return d, If(busy, 1, 2)


def dax_unlock_entry(op, m, L, D, s):
    """Unlock (and wake the next waiter: the declared drop does it)."""
    return draft(s)


@split
@dataclass(frozen=True)
class PteFault(SplitOp):
    """A 4 KiB fault at PTE_INDEX inside the PMD range, reduced to its entry lock:
    grab_mapping_entry locks the entry, dax_unlock_entry unlocks it and wakes the next waiter
    on the entry's key (``dax_wake_entry``, WAKE_NEXT)."""

    name: ClassVar[str] = "pte_fault"
    HOLDS: ClassVar[tuple] = ("entry",)
    STEPS: ClassVar[tuple] = (
        Step(nothing, name="grab_mapping_entry",
             takes=lambda op, D, L: (op.lock("entry", PTE_INDEX),)),
        Step(nothing, name="dax_unlock_entry",
             drops=lambda op, D, L: (op.lock("entry", PTE_INDEX),)),
    )
    thread: int
    file: int
    step: int

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f) for f in L.files]


@split
@dataclass(frozen=True)
class PmdFaultWait(SplitOp):
    """The part of a PMD fault that waits for a locked 4 KiB entry in its range."""

    name: ClassVar[str] = "pmd_fault_wait"
    HOLDS: ClassVar[tuple] = ("entry",)
    RETRY: ClassVar[frozenset] = frozenset({1})
    NEXT: ClassVar[dict] = {1: (1, 2)}
    STEPS: ClassVar[tuple] = (
        Step(pmd_fault_start),
        Step(grab_mapping_entry, sleeps=True),
        Step(dax_unlock_entry, drops=lambda op, D, L: (op.lock("entry", PTE_INDEX),)),
    )
    thread: int
    file: int
    step: int

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f) for f in L.files]


@dataclass(frozen=True)
class EntryKey(Design):
    wait_on_pmd_index: ClassVar[bool] = False  # a correct wait: the key of the entry found
    fall_back: ClassVar[bool] = False


@dataclass(frozen=True)
class PmdKey(Design):
    wait_on_pmd_index: ClassVar[bool] = True  # the bug: the PMD's index
    fall_back: ClassVar[bool] = False


@dataclass(frozen=True)
class FallBack(Design):
    wait_on_pmd_index: ClassVar[bool] = True
    fall_back: ClassVar[bool] = True  # the kernel's fix: no wait, fall back to PTEs


SCOPE = dict(families=("pte_fault", "pmd_fault_wait"),
             bounds=Bounds(files=1, blocks=2, phys=1, tokens=1, procs=1, depth=30, threads=2),
             seed="user", partial_writes=False,
             cite="23c84eb78375 'dax: Fix missed wakeup with PMD faults' (2019)")
_fields = {f.name: getattr(DESIGNS["fault-write-entry-lock"], f.name) for f in fields(Design)}
register_design(FallBack(**{
    **_fields, **SCOPE, "name": "pmd-wait-fall-back",
    "summary": "a PMD fault that finds a 4 KiB entry falls back without waiting (23c84eb78375)",
    "expect_violated": frozenset()}))
FIXED = register_design(EntryKey(**{
    **_fields, **SCOPE, "name": "pmd-wait-entry-key",
    "summary": "the PMD fault sleeps on the key of the 4 KiB entry it found: the unlock wakes it",
    "expect_violated": frozenset()}))
BUGGY = register_design(PmdKey(**{
    **_fields, **SCOPE, "name": "pmd-wait-wrong-key",
    "summary": "the PMD fault sleeps on the PMD index's key, the 4 KiB unlock wakes its own "
               "index's: the PMD fault sleeps forever",
    "expect_violated": frozenset()}))
