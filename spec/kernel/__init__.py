"""The modelled kernel, one module per kernel source file: each ``@kernel_function`` is
named exactly as the kernel function it models, names its kernel file in its docstring,
and is the default body of the :class:`~daxcheck.spec.designs.Design` hook of the same name
(:data:`KERNEL_FUNCTIONS`; ``daxcheck list hooks``).

==================  =====================================================================
module              kernel source
==================  =====================================================================
``dax``             fs/dax.c: DAX entries, association, faults, writeback, copy-around
``mm``              mm/memory.c, mm/truncate.c: unmap_mapping_pages, invalidation
``huge_memory``     mm/huge_memory.c: zapping a DAX PMD
``xfs_iomap``       fs/xfs/xfs_iomap.c: ->iomap_begin flags and the write allocation
``xfs_bmap``        fs/xfs/libxfs/xfs_bmap.c: allocation, freeing, refcounts
``xfs_reflink``     fs/xfs/xfs_reflink.c: remap, shared extents, end of CoW
``xfs_log``         fs/xfs/xfs_log.c, xfs_log_recover.c: log force and recovery
``xfs_file``        fs/xfs/xfs_file.c, xfs_bmap_util.c, xfs_ioctl.c: fsync, layouts, punch
``pmem``            CPU cache and persistent memory primitives (clwb, memcpy_flushcache)
``views``           pure state views and ghost bookkeeping (no kernel function)
``warn``            WARN_ON_ONCE and the declared kernel warning messages
==================  =====================================================================
"""

from __future__ import annotations

from . import (  # noqa: F401  # noqa: F401  # noqa: F401
    dax,
    dax_wait,
    huge_memory,
    mm,
    pmem,
    views,
    warn,
    xfs_bmap,
    xfs_file,
    xfs_iomap,
    xfs_log,
    xfs_reflink,
)
from .registry import KERNEL_FUNCTIONS, Caller, KernelFunctionError, kernel_function

__all__ = ["KERNEL_FUNCTIONS", "Caller", "KernelFunctionError", "kernel_function"]
