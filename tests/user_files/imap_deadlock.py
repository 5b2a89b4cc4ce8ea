"""A three-thread deadlock over a page lock and i_mmap_lock (issue 25), written from the
public API alone: a new lock kind (i_mmap_rwsem), three split operations that take it and
the DAX entry lock of a 4 KiB hole entry (the page lock of a DAX mapping), and a design pair.

The kernel's order (mm/rmap.c, "Lock ordering in mm"): the folio lock (for DAX, the entry
lock) before mapping->i_mmap_rwsem.  A write fault that upgrades a 4 KiB hole (zero page)
entry holds its entry lock and takes i_mmap_rwsem shared to unmap the zero page
(dax_insert_entry -> unmap_mapping_pages).  A walk that takes i_mmap_rwsem first and then the
entry lock inverts the order; two readers of an rwsem do not block each other, but a writer
queued between them (mmap's vma_link: i_mmap_lock_write) does: rw_semaphores are fair, a new
reader waits behind a queued writer.  So the deadlock needs three threads:

    T_fault holds the entry lock, waits for i_mmap_rwsem (shared) behind the queued writer;
    T_mmap  is queued for i_mmap_rwsem (exclusive), waiting for the walker's shared hold;
    T_walk  holds i_mmap_rwsem shared, waits for the entry lock.

The fixed walker takes the entry lock first.  The queued writer is modelled as a lock of its
own (``i_mmap_waiter``: RWSEM_FLAG_WAITERS with a writer first in the queue) that the writer
holds while it waits and that a new reader must find free.

    daxcheck check --designs tests/user_files/imap_deadlock.py \\
                   --design imap-walk-inverted --design imap-walk-ordered
"""
from dataclasses import dataclass, fields
from typing import ClassVar

from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.locks import declare_lock
from daxcheck.spec.ops.split import SplitOp, Step, split
from daxcheck.spec.state import ORDER_PTE, XA_ZERO, Bounds
from daxcheck.spec.vocab import And, draft, require

# 1. The locks: i_mmap_rwsem (per inode, reader/writer, sleeping; after the page lock in
#    mm/rmap.c's order), and the writer waiting in its queue.
declare_lock("i_mmap", title="i_mmap_rwsem", shared=True, order=4,
             source="include/linux/fs.h i_mmap_lock_read / i_mmap_lock_write")
declare_lock("i_mmap_waiter", title="i_mmap_rwsem queued writer", order=4,
             source="kernel/locking/rwsem.c rwsem_down_write_slowpath (RWSEM_FLAG_WAITERS)")

READ = ("i_mmap-shared",)       # down_read: the lock shared...
BEHIND_WRITER = ("i_mmap_waiter",)   # ...and no writer queued before us


def hole_entry(L, s, f, x):
    """``f``/``x`` has a 4 KiB hole (zero page) DAX entry."""
    return And(s[L.xa_kind[f][x]] == XA_ZERO, s[L.xa_order[f][x]] == ORDER_PTE)


def nothing(op, m, L, D, s):
    """A step that only takes or drops locks (they are declared on the Step)."""
    return draft(s)


def grab_hole_entry(op, m, L, D, s):
    """grab_mapping_entry on a 4 KiB hole entry (a write fault that will replace it)."""
    if not require(hole_entry(L, s, op.file, op.idx)):
        return None
    return draft(s)


# 2. The operations.
@split
@dataclass(frozen=True)
class HoleUpgradeFault(SplitOp):
    """A write fault on a 4 KiB hole entry: grab_mapping_entry locks it, dax_insert_entry
    unmaps the zero page under i_mmap_lock_read (unmap_mapping_pages), then unlocks."""

    name: ClassVar[str] = "hole_upgrade_fault"
    HOLDS: ClassVar[tuple] = ("entry", "i_mmap-shared")
    STEPS: ClassVar[tuple] = (
        Step(grab_hole_entry, takes=("entry",)),
        Step(nothing, name="unmap_mapping_pages", waits=BEHIND_WRITER, takes=READ),
        Step(nothing, name="dax_unlock_entry", drops=("i_mmap-shared", "entry")),
    )
    thread: int
    file: int
    idx: int
    step: int

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f, idx=x) for f in L.files for x in L.blks]


def walk_first(op, D, L):
    return ("entry",) if D.walk_entry_first else READ


def walk_second(op, D, L):
    return READ if D.walk_entry_first else ("entry",)


def walk_waits(op, D, L, step):
    reads = (step == 0) != D.walk_entry_first
    return BEHIND_WRITER if reads else ()


@split
@dataclass(frozen=True)
class MappingWalk(SplitOp):
    """A walk of the file's mappings that locks one DAX entry (as rmap walks and
    dax_entry_mkclean visit a page): the lock order is the design's."""

    name: ClassVar[str] = "mapping_walk"
    HOLDS: ClassVar[tuple] = ("entry", "i_mmap-shared")
    STEPS: ClassVar[tuple] = (
        Step(nothing, name="lock_first", takes=walk_first,
             waits=lambda op, D, L: walk_waits(op, D, L, 0)),
        Step(nothing, name="lock_second", takes=walk_second,
             waits=lambda op, D, L: walk_waits(op, D, L, 1)),
        Step(nothing, name="unlock", drops=("i_mmap-shared", "entry")),
    )
    thread: int
    file: int
    idx: int
    step: int

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f, idx=x) for f in L.files for x in L.blks]


@split
@dataclass(frozen=True)
class VmaLink(SplitOp):
    """mmap(2) linking a VMA into the file's i_mmap tree: i_mmap_lock_write queues the
    writer, which waits for the readers to leave, then unlocks."""

    name: ClassVar[str] = "vma_link"
    HOLDS: ClassVar[tuple] = ("i_mmap_waiter", "i_mmap-excl")
    STEPS: ClassVar[tuple] = (
        Step(nothing, name="i_mmap_lock_write", takes=("i_mmap_waiter",)),
        Step(nothing, name="rwsem_down_write", takes=("i_mmap-excl",), drops=("i_mmap_waiter",)),
        Step(nothing, name="i_mmap_unlock_write", drops=("i_mmap-excl",)),
    )
    thread: int
    file: int
    step: int

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f) for f in L.files]


# 3. The designs: the walk's lock order is a hook of the user's Design subclass.
@dataclass(frozen=True)
class OrderedWalk(Design):
    walk_entry_first: ClassVar[bool] = True  # mm/rmap.c: the page lock before i_mmap_rwsem


@dataclass(frozen=True)
class InvertedWalk(Design):
    walk_entry_first: ClassVar[bool] = False


SCOPE = dict(families=("mmap", "truncate", "fault", "hole_upgrade_fault", "mapping_walk",
                       "vma_link"),
             bounds=Bounds(files=1, blocks=1, phys=1, tokens=1, procs=1, depth=30, threads=3),
             seed="user", partial_writes=False,
             cite="mm/rmap.c lock ordering; fs/dax.c dax_insert_entry -> unmap_mapping_pages")
BASE = DESIGNS["fault-write-entry-lock"]
_fields = {f.name: getattr(BASE, f.name) for f in fields(Design)}
FIXED = register_design(OrderedWalk(**{
    **_fields, **SCOPE, "name": "imap-walk-ordered",
    "summary": "the walk takes the entry lock before i_mmap_rwsem (mm/rmap.c order)",
    "expect_violated": frozenset()}))
BUGGY = register_design(InvertedWalk(**{
    **_fields, **SCOPE, "name": "imap-walk-inverted",
    "summary": "the walk holds i_mmap_rwsem shared and waits for the entry lock of a hole a "
               "write fault holds while it waits for i_mmap_rwsem behind a queued writer",
    "expect_violated": frozenset({"no_deadlock"})}))
