"""Split operations: kernel operations as interleavable, lock-delimited steps (issue 11).

An operation that races in the kernel's history is split at the points where the kernel
takes or drops a lock or may sleep.  Each step is an ordinary action, one instance per
(thread, operation arguments, step): ``dax_fault(thread=T0, proc=P0, file=a, idx=0,
write=false, step=1)``.  Thread ``t``'s program counter lives in the state (``th_op``:
the operation, ``th_pc``: its next step, ``th_file``/``th_idx``/``th_proc``: its arguments,
``th_pblk``/``th_kind``: what an earlier step looked up, all 0 when idle), so a step is
enabled when its thread is at that step of that operation with those arguments and the
locks the step needs are free (:mod:`daxcheck.spec.locks`).  Every step is written in the
vocabulary like every other transition: the Z3 engine, the taint analysis (the read/write
sets the partial-order reduction takes its independence relation from) and replay need
no special case.  Operations that are not split stay atomic actions whose guard requires
the locks they would take to be free (:func:`daxcheck.spec.locks.atomic_guard`).

The lock discipline of each step is a :class:`~daxcheck.spec.designs.Design` hook (take
MMAPLOCK or not, lock the entry before or after ->iomap_begin, recheck the page table
under the entry lock, unmap before looking for busy pages, drop MMAPLOCK while waiting),
so a fix and the bug before it are a design pair (:mod:`daxcheck.spec.race_designs`).

The operations are declared with the public API a user file uses (:func:`split`,
:class:`Step` with the locks each step waits on, takes and drops;
:func:`~daxcheck.spec.locks.declare_lock` for a new kind of lock), by family:
:mod:`.race_faults` (``dax_fault``, ``dax_mkwrite``, ``dax_pmd_fault``),
:mod:`.race_layouts` (``punch_hole``, ``dio_read``), :mod:`.race_truncate`
(``setattr_size``); this module gathers them in registration order (``th_op`` codes).
"""

from __future__ import annotations

from .race_faults import DaxFault, DaxMkwrite, DaxPmdFault
from .race_layouts import DioRead, PunchHole
from .race_truncate import SetattrSize
from .race_write import DaxWriteFault
from .split import (
    DONE,
    LOCK_FIELDS,
    SPLIT_FAMILIES,
    SplitOp,
    Step,
    WaitCycle,
    cycles,
    has_sleepers,
    race_fields,
    sleep_on,
    sleeping_families,
    split,
    thread_offsets,
    waits_for,
)


def __getattr__(name):
    """``RACE_FIELDS``: the race layout's fields as of now (:func:`race_fields`, users' split
    operations and lock kinds included)."""
    if name == "RACE_FIELDS":
        return race_fields()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DONE",
    "LOCK_FIELDS",
    "SPLIT_FAMILIES",
    "SplitOp",
    "Step",
    "WaitCycle",
    "cycles",
    "has_sleepers",
    "race_fields",
    "sleep_on",
    "sleeping_families",
    "split",
    "thread_offsets",
    "waits_for",
    "DaxFault",
    "DaxMkwrite",
    "DaxPmdFault",
    "PunchHole",
    "DioRead",
    "SetattrSize",
    "DaxWriteFault",
]
