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

from dataclasses import dataclass

from .state import XA_PFN, file_name
from .vocab import And, ForAll, Not, Or, select


@dataclass(frozen=True)
class Need:
    """One lock an action must find free to run: ``kind`` "entry" (DAX entry lock of
    ``file``/``idx``), "mmap-shared" / "mmap-excl" (XFS MMAPLOCK of ``file``), "io-shared" /
    "io-excl" (``i_rwsem`` of ``file``), or "pin" (the
    page under ``file``/``idx``'s DAX entry must not be pinned: dax_layout_busy_page);
    ``me``: the thread taking it (None for an atomic action), which never blocks itself."""

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
        if self.kind == "entry":
            return s[L.xa_lock[f][x]] == u + 1
        if self.kind == "mmap-shared":
            return s[L.mmap_excl[f]] == u + 1
        if self.kind == "mmap-excl":
            return Or(s[L.mmap_excl[f]] == u + 1, s[L.mmap_shared[f][u]] == 1)
        if self.kind in ("io-shared", "io-excl"):
            return s[L.io_excl[f]] == u + 1
        if self.kind == "pin":
            p = s[L.xa_pfn[f][x]]
            return And(
                s[L.xa_kind[f][x]] == XA_PFN,
                select(s, L.pinned, p) == 1,
                select(s, L.pin_holder, p) == u + 1,
            )
        raise ValueError(f"unknown lock need {self.kind!r}")

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
        """Kernel name of the lock, e.g. ``DAX entry lock a[0]``."""
        where = f"{file_name(self.file)}"
        if self.kind == "entry":
            return f"DAX entry lock {where}[{self.idx}]"
        if self.kind == "pin":
            return f"pin of the page under {where}[{self.idx}]"
        lock = "i_rwsem" if self.kind.startswith("io-") else "MMAPLOCK"
        return f"{lock} {where} ({self.kind.split('-')[1]})"


def free(L, s, needs):
    """All of ``needs`` can be taken in ``s`` (True without lock fields)."""
    if not L.races:
        return True
    return And(*[n.free(L, s) for n in needs])


def take(L, d, need, t):
    """Thread ``t`` takes ``need``'s lock in draft ``d`` (the caller required it free)."""
    f, x = need.file, need.idx
    if need.kind == "entry":
        d[L.xa_lock[f][x]] = t + 1
    elif need.kind == "mmap-shared":
        d[L.mmap_shared[f][t]] = 1
    elif need.kind == "mmap-excl":
        d[L.mmap_excl[f]] = t + 1
    elif need.kind == "io-excl":
        d[L.io_excl[f]] = t + 1
    else:
        raise ValueError(f"lock {need.kind} cannot be taken")


def drop(L, d, need, t):
    """Thread ``t`` releases ``need``'s lock (dax_unlock_entry, xfs_iunlock)."""
    f, x = need.file, need.idx
    if need.kind == "entry":
        d[L.xa_lock[f][x]] = 0
    elif need.kind == "mmap-shared":
        d[L.mmap_shared[f][t]] = 0
    elif need.kind == "mmap-excl":
        d[L.mmap_excl[f]] = 0
    elif need.kind == "io-excl":
        d[L.io_excl[f]] = 0
    else:
        raise ValueError(f"lock {need.kind} cannot be dropped")


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


def atomic_needs_of(D, L, a) -> tuple:
    """:func:`atomic_needs` of the atomic action ``a`` (by family: ``fault``, ``pmd_fault``,
    ``write``, ``read``, ``punch``, ``truncate``, ``fdatasync``; other families take no
    modelled lock)."""
    if not L.races:
        return ()
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


def atomic_guard(D, L, s, a):
    """Enabling condition of the atomic action ``a``: every lock it takes is free (see
    :func:`atomic_needs`); True for a design without lock fields."""
    return free(L, s, atomic_needs_of(D, L, a))
