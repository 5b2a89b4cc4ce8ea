"""Durability requests: fdatasync, fsync, msync(MS_SYNC) (xfs_file_fsync)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import views
from ..state import MM_SHARED, MM_SYNC
from ..vocab import Or, draft, freeze, require, when
from .base import Action, action


@action
@dataclass(frozen=True)
class Fdatasync(Action):
    """fdatasync(``file``) (xfs_file_fsync): dax_writeback_mapping_range flushes the cache
    lines of every dirty entry and write-protects their PTEs, then the log is forced.
    Ghost: the file's current contents become a durability promise."""

    name: ClassVar[str] = "fdatasync"
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(locks.atomic_guard(D, L, s, self)):
            return None
        d = draft(s)
        D.xfs_file_fsync(L, d, f)
        for x in L.blks:
            when(d, x < d[L.size[f]], lambda d, x=x: views.promise(L, d, f, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@action
@dataclass(frozen=True)
class Fsync(Action):
    """fsync(``file``) (xfs_file_fsync with datasync 0): as fdatasync in this model (the
    timestamps fsync also logs are not state); the contents become a durability promise."""

    name: ClassVar[str] = "fsync"
    file: int

    def apply(self, m, s):
        return Fdatasync(self.file).apply(m, s)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@action
@dataclass(frozen=True)
class Msync(Action):
    """msync(MS_SYNC) of process ``proc``'s shared mapping of ``file`` (vfs_fsync_range
    over the mapped range, datasync: dax_writeback_mapping_range + xfs_log_force); the
    contents become a durability promise.  Disabled without a shared mapping (msync of a
    MAP_PRIVATE mapping writes nothing back)."""

    name: ClassVar[str] = "msync"
    proc: int
    file: int

    def apply(self, m, s):
        L = m.L
        mm = s[L.mmap_mode[self.proc][self.file]]
        if not require(Or(mm == MM_SHARED, mm == MM_SYNC)):
            return None
        return Fdatasync(self.file).apply(m, s)

    @classmethod
    def instances(cls, L, D):
        return [cls(n, f) for n in L.procs for f in L.files]
