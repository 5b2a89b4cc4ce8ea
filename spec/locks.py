"""Kernel locks as state fields, and what an operation needs from them (issue 11).

Only a race design (one with split operations in its scope, :mod:`daxcheck.spec.races`)
has lock fields in its states (``L.races``); everywhere else every function here is
``True``/empty in plain Python, so the atomic designs cost nothing and stay unchanged.

The locks, by their kernel names:

* the DAX xarray entry lock (``DAX_LOCKED``, fs/dax.c ``grab_mapping_entry`` /
  ``dax_unlock_entry``; a waiter sleeps in ``wait_entry_unlocked``): field
  ``xa_lock[file][idx]``, the holding thread + 1 (0 = unlocked);
* the XFS MMAPLOCK (``XFS_MMAPLOCK_SHARED``/``_EXCL``, the VFS ``invalidate_lock`` since
  5.15): ``mmap_excl[file]`` (exclusive holder + 1) and ``mmap_shared[file][thread]``;
* the inode's ``i_rwsem`` (XFS_IOLOCK_EXCL in xfs_file_dax_write, xfs_file_fallocate and
  xfs_vn_setattr_size; XFS_IOLOCK_SHARED in xfs_file_dax_read): ``io_excl[file]``, the
  exclusive holder + 1.  Only the split hole punch holds it across steps; the atomic
  write(2), read(2), truncate and punch take and drop it within their one step, so a
  shared holder never outlives a step and needs no field;
* a page pin taken by a kernel thread (get_user_pages(FOLL_PIN) in an O_DIRECT read):
  ``pin_holder[phys]``, the thread + 1 (0 with ``pinned`` set: a device/RDMA pin that no
  modelled thread holds).

A :class:`Need` is one lock an action waits for: ``blocked_by(L, s, u)`` says (in the
vocabulary) that thread ``u`` holds it in a conflicting mode.  The same objects give the
enabling condition of a step (:func:`free`), the waits-for relation of the built-in
``no_deadlock`` property, and the "locked out" test of the partial-order reduction
(checker/explicit/por.py): a lock held by thread ``t`` is released only by ``t``'s own
steps (no atomic action writes a lock field; the reduction checks this).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .state import XA_PFN, FieldSpec, file_name
from .vocab import And, ForAll, Not, Or, select


class LockError(ValueError):
    """A lock kind declared wrongly (name taken or not an identifier, unknown ``per``
    dimension, no kernel source), or a :class:`Need` naming an undeclared lock or a mode
    the lock does not have; the message names it."""


@dataclass(frozen=True)
class LockKind:
    """A kind of kernel lock held across the steps of split operations, as state.

    ``name``: how a :class:`Need` names it (``"entry"``, ``"mmap"``...); ``title``: its kernel
    name in messages (``DAX entry lock``); ``source``: the kernel code that takes it
    (function and file); ``shared``: a reader/writer lock (rw_semaphore: a :class:`Need`
    then says ``"<name>-shared"`` or ``"<name>-excl"``), else exclusive only (``"<name>"``);
    ``sleeping``: a waiter sleeps (mutex, rwsem, the DAX entry lock's wait queue) rather
    than spins (spinlock_t; informational: both block the step); ``order``: the lockdep
    ordering class (a smaller class is taken first; mm/filemap.c's and mm/rmap.c's order:
    i_rwsem 0 < MMAPLOCK 1 < DAX entry (page) lock 3 < i_mmap_rwsem 4; recorded with the
    kind, not yet read by an engine: ``no_deadlock`` finds an inversion as a cycle); ``per``: the index dimensions of
    one lock instance (``("file",)`` per inode, ``("file", "blk")`` per file index, ``()``
    one global lock).  Its state: ``field`` (the exclusive holder, thread + 1, 0 = free) and
    for a shared lock ``shared_field`` (per ``per`` + thread: 1 while that thread holds it
    shared); ``fields`` are their :class:`~daxcheck.spec.state.FieldSpec` (empty for the
    shipped kinds, whose fields are in the race layout already)."""

    name: str
    title: str
    source: str
    shared: bool = False
    sleeping: bool = True
    order: int = 0
    per: tuple = ("file",)
    field: str = ""
    shared_field: str | None = None
    fields: tuple = ()

    def offset(self, L, name, f, x):
        """The state offset of field ``name`` for lock instance ``f``/``x``."""
        o = getattr(L, name)
        if "file" in self.per:
            o = o[f]
        if "blk" in self.per:
            o = o[x]
        return o


LOCK_KINDS: dict[str, LockKind] = {}
"""Every lock kind by name: the shipped ones, then users' in declaration order."""


class _LockFields(Sequence):
    """The names of the lock fields of every kind declared now (a live view of
    :data:`LOCK_KINDS`), then ``pin_holder``."""

    def _names(self) -> tuple:
        names = [n for k in LOCK_KINDS.values() for n in (k.field, k.shared_field) if n]
        return tuple(names) + ("pin_holder",)

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


LOCK_FIELDS = _LockFields()
"""The lock fields (holders, shared flags) of every declared kind and ``pin_holder`` (a
get_user_pages pin a thread holds): only split steps write them (the partial-order
reduction checks this).  A live view, so an earlier ``from ... import LOCK_FIELDS`` sees
users' kinds too."""


def declare_lock(
    name: str,
    *,
    title: str,
    source: str,
    shared: bool = False,
    sleeping: bool = True,
    order: int = 0,
    per: tuple = ("file",),
    _fields: tuple | None = None,
) -> LockKind:
    """Declare a lock kind (see :class:`LockKind`) and return it; a user file calls it at
    import.  Its state fields, ``lk_<name>`` (the exclusive holder) and for a ``shared`` lock
    ``lk_<name>_shared``, join every race design's layout.  Declaring the same kind again
    (a user file loaded twice) returns the existing one; raises LockError for a name taken
    by a different kind, a bad name, an empty ``source`` or a ``per`` dimension other than
    ``file``/``blk``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise LockError(f"lock kind {name!r}: the name must be an identifier")
    if not isinstance(source, str) or not source:
        raise LockError(f"lock kind {name}: needs its kernel source (function and file)")
    per = tuple(per)
    if any(d not in ("file", "blk") for d in per) or ("blk" in per and "file" not in per):
        raise LockError(f"lock kind {name}: per={per!r} must be (), ('file',) or ('file', 'blk')")
    if _fields is None:
        field, sfield = f"lk_{name}", (f"lk_{name}_shared" if shared else None)
        specs = [FieldSpec(field, per, "meta", "holder", f"{title}: the exclusive holder")]
        if shared:
            specs.append(
                FieldSpec(
                    f"lk_{name}_shared",
                    per + ("thread",),
                    "meta",
                    None,
                    f"{title} held shared",
                    _flag,
                )
            )
        fields = tuple(specs)
    else:
        (field, sfield), fields = _fields, ()
    kind = LockKind(name, title, source, shared, sleeping, order, per, field, sfield, fields)
    old = LOCK_KINDS.get(name)
    if old is not None:
        if (old.title, old.source, old.shared, old.per) != (title, source, shared, per):
            raise LockError(f"lock kind {name} is already declared ({old.source})")
        return old
    LOCK_KINDS[name] = kind
    return kind


def _flag(b):
    return (0, 1)


def lock_fields() -> tuple:
    """The FieldSpecs of users' lock kinds (the shipped kinds' are in the race layout)."""
    return tuple(fs for k in LOCK_KINDS.values() for fs in k.fields)


ENTRY = declare_lock(
    "entry",
    title="DAX entry lock",
    source="fs/dax.c grab_mapping_entry / dax_unlock_entry (DAX_LOCKED)",
    order=3,
    per=("file", "blk"),
    _fields=("xa_lock", None),
)
MMAPLOCK = declare_lock(
    "mmap",
    title="MMAPLOCK",
    source="fs/xfs/xfs_inode.c xfs_ilock(XFS_MMAPLOCK_*) (invalidate_lock since 5.15)",
    shared=True,
    order=1,
    _fields=("mmap_excl", "mmap_shared"),
)
IOLOCK = declare_lock(
    "io",
    title="i_rwsem",
    source="fs/xfs/xfs_inode.c xfs_ilock(XFS_IOLOCK_*) (the inode's i_rwsem)",
    shared=True,
    order=0,
    _fields=("io_excl", None),
)


def lock_of(kind: str) -> tuple[LockKind, str]:
    """``(lock kind, mode)`` of a :class:`Need` kind string: ``"entry"`` -> (entry,
    "excl"), ``"mmap-shared"`` -> (mmap, "shared").  Raises LockError for an undeclared
    lock or a mode it does not have."""
    if kind in LOCK_KINDS and not LOCK_KINDS[kind].shared:
        return LOCK_KINDS[kind], "excl"
    name, _, mode = kind.rpartition("-")
    k = LOCK_KINDS.get(name)
    if k is None or not k.shared or mode not in ("shared", "excl"):
        raise LockError(f"unknown lock need {kind!r}")
    return k, mode


@dataclass(frozen=True)
class Need:
    """One lock an action must find free to run: ``kind`` names a declared
    :class:`LockKind` and mode: "entry" (DAX entry lock of ``file``/``idx``),
    "mmap-shared" / "mmap-excl" (XFS MMAPLOCK of ``file``), "io-shared" / "io-excl"
    (``i_rwsem`` of ``file``), a user's kind (``"<name>"`` or ``"<name>-shared"`` /
    ``"<name>-excl"``), or "pin" (the page under ``file``/``idx``'s DAX entry must not be
    pinned: dax_layout_busy_page); ``file``/``idx`` pick the lock instance (as its kind's
    ``per`` says); ``me``: the thread taking it (None for an atomic action), which never
    blocks itself."""

    kind: str
    file: int
    idx: int = 0
    me: int | None = None

    def blocked_by(self, L, s, u):
        """Thread ``u`` holds this lock in a mode that conflicts (vocabulary condition;
        False in plain Python for ``u`` = the taker)."""
        if u == self.me:
            return False
        f, x = self.file, self.idx
        if self.kind == "pin":
            p = s[L.xa_pfn[f][x]]
            return And(
                s[L.xa_kind[f][x]] == XA_PFN,
                select(s, L.pinned, p) == 1,
                select(s, L.pin_holder, p) == u + 1,
            )
        k, mode = lock_of(self.kind)
        excl = s[k.offset(L, k.field, f, x)] == u + 1
        if mode == "excl" and k.shared_field:
            return Or(excl, s[k.offset(L, k.shared_field, f, x)[u]] == 1)
        return excl

    def free(self, L, s):
        """The lock can be taken now: no other thread holds it in a conflicting mode (for
        "pin": the page is not pinned at all, by a thread or by a device)."""
        if self.kind == "pin":
            f, x = self.file, self.idx
            return Not(
                And(s[L.xa_kind[f][x]] == XA_PFN, select(s, L.pinned, s[L.xa_pfn[f][x]]) == 1)
            )
        return ForAll(L.threads, lambda u: Not(self.blocked_by(L, s, u)))

    def describe(self) -> str:
        """Kernel name of the lock, e.g. ``DAX entry lock a[0]``, ``MMAPLOCK a (excl)``."""
        where = f"{file_name(self.file)}"
        if self.kind == "pin":
            return f"pin of the page under {where}[{self.idx}]"
        k, mode = lock_of(self.kind)
        if "blk" in k.per:
            where = f"{where}[{self.idx}]"
        elif not k.per:
            where = ""
        text = f"{k.title} {where}".rstrip()
        return f"{text} ({mode})" if k.shared else text


def free(L, s, needs):
    """All of ``needs`` can be taken in ``s`` (True without lock fields)."""
    if not L.races:
        return True
    return And(*[n.free(L, s) for n in needs])


def take(L, d, need, t):
    """Thread ``t`` takes ``need``'s lock in draft ``d`` (the caller required it free).
    Raises LockError for a pin or a shared mode with no shared state (i_rwsem shared is
    taken and dropped within one step)."""
    _set(L, d, need, t, 1)


def drop(L, d, need, t):
    """Thread ``t`` releases ``need``'s lock (dax_unlock_entry, xfs_iunlock)."""
    _set(L, d, need, t, 0)


def _set(L, d, need, t, on):
    verb = "taken" if on else "dropped"
    if need.kind == "pin":
        raise LockError(f"lock {need.kind} cannot be {verb}")
    k, mode = lock_of(need.kind)
    if mode == "shared":
        if not k.shared_field:
            raise LockError(f"lock {need.kind} cannot be {verb}")
        d[k.offset(L, k.shared_field, need.file, need.idx)[t]] = on
    else:
        d[k.offset(L, k.field, need.file, need.idx)] = t + 1 if on else 0


def atomic_needs(D, L, op: str, f: int, xs=(), me=None) -> tuple:
    """The locks an operation that is not split takes (and drops) within its one step, so
    its guard requires them free: ``op`` "fault" (MMAPLOCK shared, the entry lock of each
    index of ``xs``), "pmd_fault" (the same over the PMD range), "write" (i_rwsem
    exclusive when the design takes it; ->iomap_begin's invalidation waits for the entry
    locks of ``xs``), "read" (i_rwsem shared), "fdatasync" (dax_writeback_one locks each
    entry of ``xs``), "truncate"/"punch" (i_rwsem and MMAPLOCK exclusive when the design
    takes them, the entry locks of ``xs``: __dax_invalidate_entry waits for them).  Empty
    for a design without lock fields.  ``me``: the thread taking them, for a split
    operation's first step (the hole punch's and truncate's xfs_ilock)."""
    if not L.races:
        return ()
    out = []
    if op in ("write", "truncate", "punch") and D.xfs_ilock_iolock(op):
        out.append(Need("io-excl", f, 0, me))
    if op == "read" and D.xfs_ilock_iolock(op):
        out.append(Need("io-shared", f, 0, me))
    if op in ("fault", "pmd_fault") and D.xfs_ilock_mmaplock("fault"):
        out.append(Need("mmap-shared", f, 0, me))
    if op in ("truncate", "punch") and D.xfs_ilock_mmaplock(op):
        out.append(Need("mmap-excl", f, 0, me))
    out.extend(Need("entry", f, x, me) for x in xs)
    return tuple(out)


def atomic_op_locks(D, L, a) -> tuple:
    """The locks the atomic (not split) action ``a`` takes and drops within its one step in
    a race design, so its guard requires them free: xfs_file_dax_write's, xfs_file_dax_read's,
    xfs_file_fallocate's and xfs_vn_setattr_size's xfs_ilock (IOLOCK, MMAPLOCK), the DAX entry
    locks grab_mapping_entry / dax_writeback_one / __dax_invalidate_entry wait for.  By
    family (:func:`atomic_needs`): ``fault``, ``pmd_fault``, ``write``, ``read``, ``punch``,
    ``truncate``, ``fdatasync``; other families take no modelled lock.  A design overrides
    it to give an atomic operation (a user's too) its locks: a tuple of
    :class:`Need` with ``me=None``.  The body of the ``Design.atomic_op_locks`` hook (a
    design decision over several kernel functions, so not in ``spec/kernel/``)."""
    if a.name == "read":
        return atomic_needs(D, L, "read", a.file)
    if a.name in ("fault", "write", "punch"):
        return atomic_needs(D, L, a.name, a.file, (a.idx,))
    if a.name == "pmd_fault":
        return atomic_needs(D, L, "pmd_fault", a.file, tuple(L.blks))
    if a.name == "truncate":
        return atomic_needs(D, L, "truncate", a.file, tuple(x for x in L.blks if x >= a.size))
    if a.name == "fdatasync":  # dax_writeback_one locks each entry it writes back
        return atomic_needs(D, L, "fdatasync", a.file, tuple(L.blks))
    return ()


def atomic_needs_of(D, L, a) -> tuple:
    """The locks the atomic action ``a`` takes in design ``D`` (its ``atomic_op_locks``
    hook); empty for a design without lock fields."""
    if not L.races:
        return ()
    return tuple(D.atomic_op_locks(L, a))


def atomic_guard(D, L, s, a):
    """Enabling condition of the atomic action ``a``: every lock it takes is free (see
    :func:`atomic_needs`); True for a design without lock fields."""
    return free(L, s, atomic_needs_of(D, L, a))
