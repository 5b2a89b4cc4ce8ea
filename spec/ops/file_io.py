"""File I/O through the DAX iomap path: write(2) and read(2) (dax_iomap_rw)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import views
from ..vocab import And, draft, freeze, require
from .base import Action, action
from .common import write_ranges


@action
@dataclass(frozen=True)
class Write(Action):
    """write(2) of ``token`` to segments ``lo``..``hi`` of block ``idx`` of ``file``
    (dax_iomap_rw → dax_iomap_iter): ->iomap_begin allocates, converts or CoWs the block
    (:func:`~daxcheck.spec.kernel.xfs_iomap.xfs_dax_write_iomap_begin`; a partial write to a
    shared block is the unaligned CoW of seed 003), then dax_copy_from_iter stores the data with non-temporal stores (durable on
    media, any dirty cache line of the block dropped).  Extends i_size.  Disabled on ENOSPC
    or when the design refuses the CoW."""

    name: ClassVar[str] = "write"
    free: ClassVar[tuple] = ("lo", "hi", "token")
    file: int
    idx: int
    lo: int
    hi: int
    token: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f, x, t = self.file, self.idx, self.token
        segs = tuple(range(self.lo, self.hi + 1))
        if not require(locks.atomic_guard(D, L, s, self)):
            return None
        d = draft(s)
        if not D.xfs_dax_write_iomap_begin(L, d, f, x, segs):
            return None
        reported = D.dax_iomap_iter_copy(L, d, d[L.ext_pblk[f][x]], segs, t, self.copied())
        for g in reported:
            views.wrote(L, d, f, x, g, t)
        if reported:
            views.grow(L, d, f, x + 1)
        return freeze(d)

    def copied(self) -> int:
        """Segments the user buffer supplies (all of them: a full copy)."""
        return self.hi - self.lo + 1

    @classmethod
    def instances(cls, L, D):
        return [
            cls(f, x, lo, hi, t)
            for f in L.files
            for x in L.blks
            for lo, hi in write_ranges(L, D)
            for t in L.toks
        ]


@action
@dataclass(frozen=True)
class WriteShort(Write):
    """write(2) whose copy ends short (issue 25): as :class:`Write` over segments
    ``lo``..``hi``, but the user buffer supplies only the first ``avail`` of them (the user
    copy faults on an unmapped or poisoned source page after them), so
    ``D.dax_iomap_iter_copy`` copies ``avail`` segments and write(2) returns that many
    bytes: only they become the data written, and i_size grows only over them.  Instances:
    every multi-segment range, ``avail`` 1..length-1 (a copy of 0 bytes returns -EFAULT
    with nothing written: not a state change this model distinguishes).  Opt-in family
    (``write_short`` in a design's ``families``)."""

    name: ClassVar[str] = "write_short"
    free: ClassVar[tuple] = ("lo", "hi", "avail", "token")
    avail: int = 1

    def copied(self) -> int:
        """Segments the user buffer supplies before the copy faults: ``avail``."""
        return self.avail

    @classmethod
    def instances(cls, L, D):
        return [
            cls(f, x, lo, hi, t, n)
            for f in L.files
            for x in L.blks
            for lo, hi in write_ranges(L, D)
            for n in range(1, hi - lo + 1)
            for t in L.toks
        ]


@action
@dataclass(frozen=True)
class Read(Action):
    """read(2) of block ``idx`` of ``file`` (dax_iomap_rw, dax_iomap_iter read side).  It
    changes no state: what it returns is :func:`~daxcheck.spec.kernel.views.file_view`, which
    the properties check in every state, and which replay prints."""

    name: ClassVar[str] = "read"
    file: int
    idx: int

    def apply(self, m, s):
        if not require(
            And(self.idx < s[m.L.size[self.file]], locks.atomic_guard(m.design, m.L, s, self))
        ):
            return None
        return s

    @classmethod
    def instances(cls, L, D):
        return [cls(f, x) for f in L.files for x in L.blks]
