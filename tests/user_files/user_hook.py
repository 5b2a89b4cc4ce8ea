"""A user file that declares its own kernel hook with a default body (issue 25): the
``vfs_fsync_range`` hook (fs/sync.c), an operation that calls it through ``D.<hook>`` and a
design overriding it.  Every design, shipped or user, gets the default body; the override
drops the log force, so a crash after the sync loses the file's new block.

    daxcheck list hooks --designs tests/user_files/user_hook.py
    daxcheck check --designs tests/user_files/user_hook.py --design user-hook-no-log-force
"""

from dataclasses import dataclass, fields
from typing import ClassVar

from daxcheck.spec.designs import DESIGNS, Design, register_design
from daxcheck.spec.kernel import kernel_function
from daxcheck.spec.kernel.views import promise
from daxcheck.spec.ops import Action, action
from daxcheck.spec.state import Bounds
from daxcheck.spec.vocab import draft, freeze, when


@kernel_function("fs/sync.c", cite="sync_file_range(2) man page; fs/sync.c vfs_fsync_range")
def vfs_fsync_range(D, L, d, f):
    """vfs_fsync_range (fs/sync.c): the filesystem's ->fsync for the whole file
    (``D.xfs_file_fsync``: writeback of dirty entries, then the log force)."""
    D.xfs_file_fsync(L, d, f)


@action
@dataclass(frozen=True)
class RangeSync(Action):
    """sync_file_range(``file``, SYNC_FILE_RANGE_WRITE_AND_WAIT) followed by fdatasync, as
    one call: ``D.vfs_fsync_range``; the file's contents become a durability promise."""

    name: ClassVar[str] = "range_sync"
    file: int

    def apply(self, m, s):
        L, D = m.L, m.design
        d = draft(s)
        D.vfs_fsync_range(L, d, self.file)
        for x in L.blks:
            when(d, x < d[L.size[self.file]], lambda d, x=x: promise(L, d, self.file, x))
        return freeze(d)

    @classmethod
    def instances(cls, L, D):
        return [cls(f) for f in L.files]


@dataclass(frozen=True)
class NoLogForce(Design):
    def vfs_fsync_range(self, L, d, f):
        """vfs_fsync_range without the filesystem's log force (the bug)."""
        self.dax_writeback_mapping_range(L, d, f)


FAMILIES = ("mmap", "fault", "store", "flush", "write", "read", "range_sync", "crash")
BOUNDS = Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=4)
BASE = DESIGNS["map-sync"].variant(
    name="user-hook-default", seed="user", summary="map-sync with range_sync",
    families=FAMILIES, bounds=BOUNDS, expect_violated=frozenset(),
)
register_design(BASE)
register_design(
    NoLogForce(
        **{
            **{f.name: getattr(BASE, f.name) for f in fields(Design)},
            "name": "user-hook-no-log-force",
            "summary": "range_sync without the log force",
            "expect_violated": frozenset({"durable_after_sync"}),
        }
    )
)
