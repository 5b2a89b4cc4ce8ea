"""The per-inode DAX flag (FS_XFLAG_DAX, 5.8) and inode eviction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..kernel import dax
from ..state import MM_NONE
from ..vocab import And, ForAll, draft, freeze, require
from .base import Action, action


@action
@dataclass(frozen=True)
class DaxToggle(Action):
    """ioctl(FS_IOC_FSSETXATTR) setting (``on``) or clearing FS_XFLAG_DAX on ``file``
    (xfs_ioctl_setattr_xflags; hook ``xfs_ioctl_setattr_dax`` decides when S_DAX follows:
    at eviction since 5.8, xfstests generic/605-608).  Disabled when the flag already has
    that value."""

    name: ClassVar[str] = "dax_toggle"
    file: int
    on: bool

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(s[L.xflag_dax[f]] != (1 if self.on else 0)):
            return None
        d = draft(s)
        D.xfs_ioctl_setattr_dax(L, d, f, self.on)
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f, on) for f in L.files for on in (False, True)]


@action
@dataclass(frozen=True)
class EvictInode(Action):
    """The inode of ``file`` is evicted (iput_final after the last mapping and open file
    went, d_mark_dontcache; drop_caches): its DAX mapping is written back and every entry
    deleted (truncate_inode_pages_final → dax_delete_mapping_entry), and the next load
    takes S_DAX from FS_XFLAG_DAX.  Disabled while a process maps the file or when S_DAX
    would not change."""

    name: ClassVar[str] = "evict_inode"
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        f = self.file
        if not require(
            And(
                ForAll(L.procs, lambda n: s[L.mmap_mode[n][f]] == MM_NONE),
                s[L.s_dax[f]] != s[L.xflag_dax[f]],
            )
        ):
            return None
        d = draft(s)
        D.dax_writeback_mapping_range(L, d, f)
        dax.break_pmd(D, L, d, f)
        for x in L.blks:
            D.dax_delete_mapping_entry(L, d, f, x)
        d[L.s_dax[f]] = d[L.xflag_dax[f]]
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]
