"""The operations, one module per family: :mod:`.mmap_fault` (mmap, munmap, faults, stores,
flushes), :mod:`.file_io` (write, read), :mod:`.fallocate` (fallocate and its modes,
punch, truncate, seal), :mod:`.reflink` (FICLONE, FICLONERANGE, FIDEDUPERANGE),
:mod:`.sync` (fdatasync, fsync, msync), :mod:`.pins` (get_user_pages pins and DMA),
:mod:`.crash` (power failure, cache-line eviction), :mod:`.inode` (the per-inode DAX flag,
inode eviction) and :mod:`.races` (the race designs' split operations, issue 11, on the
framework of :mod:`.split`).  The framework of every operation (:class:`Action`,
:func:`action`, :data:`ACTIONS`) is in :mod:`.base`.

The shipped families are registered in :data:`SHIPPED_FAMILIES` order whatever the module
they are defined in: that order is every model's action order, so traces replay by action
and breadth-first search meets states in the same order as before the split.
"""

from __future__ import annotations

from .base import ACTIONS, Action, ActionDefinitionError, action
from .common import per_inode_dax, per_mapping, write_ranges
from .crash import Crash, Evict
from .fallocate import (
    CollapseRange,
    Fallocate,
    InsertRange,
    Punch,
    Seal,
    Truncate,
    Unshare,
    ZeroRange,
)
from .file_io import Read, Write, WriteShort
from .inode import DaxToggle, EvictInode
from .mmap_fault import (
    Fault,
    Flush,
    Mmap,
    MmapPrivate,
    Munmap,
    PmdFault,
    PmdWriteFault,
    Store,
)
from .pins import Dma, Pin
from .reflink import Dedupe, Reflink, ReflinkRange
from .sync import Fdatasync, Fsync, Msync

SHIPPED_FAMILIES = (
    "mmap",
    "mmap_private",
    "munmap",
    "fault",
    "pmd_fault",
    "store",
    "flush",
    "write",
    "read",
    "fallocate",
    "seal",
    "reflink",
    "punch",
    "truncate",
    "fdatasync",
    "crash",
    "evict",
    "reflink_range",
    "fsync",
    "msync",
    "zero_range",
    "collapse_range",
    "insert_range",
    "unshare",
    "dedupe",
    "pin",
    "dma",
    "dax_toggle",
    "evict_inode",
    "pmd_write_fault",
    "write_short",
)
"""The shipped atomic action families, in model order."""
OPT_IN_FAMILIES = ("pmd_write_fault", "write_short")
"""Shipped families a design explores only when its ``families`` name them (issue 25's
added kernel detail): not in :data:`~daxcheck.spec.designs.ALL_FAMILIES`, so every scope
written before them keeps its action list and state counts."""
ALL_FAMILIES = tuple(f for f in SHIPPED_FAMILIES if f not in OPT_IN_FAMILIES)
"""Every shipped atomic family but the :data:`OPT_IN_FAMILIES`: the default ``families`` of
a design (re-exported as :data:`daxcheck.spec.designs.ALL_FAMILIES`; a user's ``@action``
family, or an opt-in one, adds its name to a design's ``families`` to be explored there)."""
FAMILY_ORDER = SHIPPED_FAMILIES
"""The shipped families in model order (users' families follow, see :data:`ACTIONS`)."""

if set(ACTIONS) != set(SHIPPED_FAMILIES):  # a family added to a module but not listed here
    raise ActionDefinitionError(
        f"spec/ops: SHIPPED_FAMILIES does not list {sorted(set(ACTIONS) ^ set(SHIPPED_FAMILIES))}"
    )
_registered = dict(ACTIONS)
ACTIONS.clear()
ACTIONS.update((name, _registered[name]) for name in SHIPPED_FAMILIES)

from . import races  # noqa: E402  (split operations register after the atomic ones)
from .races import SPLIT_FAMILIES, SplitOp  # noqa: E402

__all__ = [
    "ACTIONS",
    "Action",
    "ActionDefinitionError",
    "action",
    "per_inode_dax",
    "per_mapping",
    "write_ranges",
    "SHIPPED_FAMILIES",
    "ALL_FAMILIES",
    "FAMILY_ORDER",
    "SPLIT_FAMILIES",
    "SplitOp",
    "races",
    "Crash",
    "Evict",
    "CollapseRange",
    "Fallocate",
    "InsertRange",
    "Punch",
    "Seal",
    "Truncate",
    "Unshare",
    "ZeroRange",
    "Read",
    "Write",
    "WriteShort",
    "DaxToggle",
    "EvictInode",
    "Fault",
    "Flush",
    "Mmap",
    "MmapPrivate",
    "Munmap",
    "PmdFault",
    "PmdWriteFault",
    "OPT_IN_FAMILIES",
    "Store",
    "Dma",
    "Pin",
    "Dedupe",
    "Reflink",
    "ReflinkRange",
    "Fdatasync",
    "Fsync",
    "Msync",
]
