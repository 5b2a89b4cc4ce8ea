"""mm/: page tables and the page cache side of the address space (mm/memory.c
unmap_mapping_pages, mm/truncate.c invalidate_inode_pages2_range; the PMD zap is in
:mod:`~daxcheck.spec.kernel.huge_memory`).

``n`` process, ``f`` file, ``x`` page index; ``L`` layout, ``d`` draft.
"""

from __future__ import annotations

from ..state import PTE_ANON, PTE_NONE
from ..vocab import If
from .dax import break_pmd
from .registry import Caller, kernel_function


def unmap(L, d, f, x):
    """unmap_mapping_pages for one index with ``even_cows``: drop every process's PTE of
    ``f``/``x``."""
    for n in L.procs:
        d[L.pte_kind[n][f][x]] = PTE_NONE
        d[L.pte_pfn[n][f][x]] = 0


@kernel_function("mm/memory.c")
def unmap_mapping_pages(D, L, d, f, x):
    """unmap_mapping_pages (mm/memory.c): drop every process's PTE of ``f``/``x`` (a
    MAP_PRIVATE anonymous CoW page stays: even_cows is false)."""
    if D.private_mappings:
        for n in L.procs:
            kd = d[L.pte_kind[n][f][x]]
            anon = kd == PTE_ANON
            d[L.pte_kind[n][f][x]] = If(anon, kd, PTE_NONE)
            d[L.pte_pfn[n][f][x]] = If(anon, d[L.pte_pfn[n][f][x]], 0)
    else:
        unmap(L, d, f, x)


@kernel_function("mm/truncate.c")
def invalidate_inode_pages2_range(D, L, d, f, x, caller: Caller | None = None):
    """invalidate_inode_pages2_range / truncate_pagecache_range (mm/truncate.c) for one
    index: break a covering PMD entry (grab_mapping_entry's downgrade, through
    ``D.dax_delete_mapping_entry``), unmap every PTE of ``f``/``x``
    (``D.unmap_mapping_pages``) and delete its DAX entry (dax_invalidate_mapping_entry_sync,
    ``D.dax_delete_mapping_entry``).  ``caller`` (:class:`Caller`): the path, FAULT
    (dax_insert_entry replacing a zero or stale entry), WRITE/FAULT/ZERO/UNSHARE/SEAL
    (dax_iomap_iter over an IOMAP_F_NEW or CoW mapping, also via xfs_reflink_end_cow), REMAP
    (a reflink destination), FLUSH (xfs_flush_unmap_range); the default body ignores it."""
    break_pmd(D, L, d, f)
    D.unmap_mapping_pages(L, d, f, x)
    D.dax_delete_mapping_entry(L, d, f, x)
