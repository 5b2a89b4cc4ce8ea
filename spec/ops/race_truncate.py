"""Split truncate (issue 11): ftruncate(2) shrinking a file (``setattr_size``,
xfs_vn_setattr_size), declared with the public :class:`~daxcheck.spec.ops.split.Step` API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .. import locks
from ..kernel import views
from ..vocab import And, Not, draft, require
from .split import DONE, SplitOp, Step, bunmapi_unless_hole, split


@split
@dataclass(frozen=True)
class SetattrSize(SplitOp):
    """ftruncate(2) shrinking ``file`` to ``size`` blocks, split at its locks
    (xfs_vn_setattr_size → xfs_setattr_size): ``xfs_ilock`` (XFS_IOLOCK_EXCL and
    XFS_MMAPLOCK_EXCL, each when the design takes it for "truncate"), ``truncate_setsize``
    (i_size is lowered first, so a fault that checks it from now on gets SIGBUS),
    ``truncate_pagecache`` (each DAX entry past the new EOF is written back, unmapped and
    deleted, waiting for its entry lock: the ``xfs_flush_unmap_range`` hook),
    ``xfs_itruncate_extents`` (the blocks past EOF are freed: the ``xfs_bunmapi`` hook),
    ``xfs_iunlock``.  A fault that checked i_size before ``truncate_setsize`` and looks the
    block up after ``truncate_pagecache`` maps a block the next step frees, unless MMAPLOCK
    keeps it out.  Refused on a sealed inode; growing stays the atomic ``truncate``, and
    so does breaking the layouts of pinned pages (no pins in this operation's scopes)."""

    name: ClassVar[str] = "setattr_size"
    HOLDS: ClassVar[tuple] = ("io-excl", "mmap-excl")
    TH_ARGS: ClassVar[dict] = {"file": "file", "idx": "size"}
    STEPS: ClassVar[tuple] = (
        Step("xfs_ilock", takes=lambda op, D, L: op.ilocks(D, L)),
        Step("truncate_setsize"),
        Step(
            "truncate_pagecache", waits=lambda op, D, L: [op.lock("entry", x) for x in op._gone(L)]
        ),
        Step("xfs_itruncate_extents"),
        Step("xfs_iunlock", drops=lambda op, D, L: op.ilocks(D, L)),
    )
    thread: int
    file: int
    size: int
    step: int

    def _gone(self, L):
        return [x for x in L.blks if x >= self.size]

    def ilocks(self, D, L):
        """What xfs_vn_setattr_size takes: i_rwsem, MMAPLOCK (each when the design does)."""
        return locks.atomic_needs(D, L, "truncate", self.file, me=self.thread)

    def xfs_ilock(self, m, L, D, s):
        f = self.file
        if not require(
            And(Not(D.is_iomap_immutable(L, s, f, "truncate")), s[L.size[f]] > self.size)
        ):
            return None
        return draft(s), 1

    def truncate_setsize(self, m, L, D, s):
        d = draft(s)
        d[L.size[self.file]] = self.size
        # The data past the new EOF is gone for readers from here on, so a sync's promise
        # for it is withdrawn here, as the atomic truncate withdraws it (a crash or log
        # force before xfs_itruncate_extents may legitimately bring the blocks back).
        for x in self._gone(L):
            views.clear_promise(L, d, self.file, x)
        return d, 2

    def truncate_pagecache(self, m, L, D, s):
        d = draft(s)
        for x in self._gone(L):
            D.xfs_flush_unmap_range(L, d, self.file, x)
        return d, 3

    def xfs_itruncate_extents(self, m, L, D, s):
        f = self.file
        d = draft(s)
        for x in self._gone(L):
            bunmapi_unless_hole(L, D, s, d, f, x)
        return d, 4

    def xfs_iunlock(self, m, L, D, s):
        """Drop what ``xfs_ilock`` took (the step's declared ``drops``)."""
        return draft(s), DONE

    @classmethod
    def op_instances(cls, L, D):
        return [dict(file=f, size=n) for f in L.files for n in range(len(L.blks))]
