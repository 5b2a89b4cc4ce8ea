"""Pure state views and the ghost bookkeeping: no kernel function, read by the kernel
functions, the operations and the properties.  What a CPU load, read(2), a load through a
PTE or a post-crash read would return; page-table and extent-layout predicates; the ghost
fields of the durability and last-write properties.

Units: ``f`` file index, ``x`` file block (4 KiB page index), ``b``/``p`` physical pmem
block (pfn), ``g`` segment of a block (``L.nsegs`` per block), ``n`` process, ``t`` data
token.  Every function takes the layout ``L`` and a state or draft (``bytes``/``bytearray``
concretely, terms symbolically) and is written in :mod:`daxcheck.spec.vocab`.
"""

from __future__ import annotations

from ..state import MM_NONE, PTE_ANON, PTE_NONE, PTE_ZERO, WRITTEN
from ..vocab import And, ForAll, If, Or, select


def cpu_data(L, d, b, g):
    """What a CPU load of segment ``g`` of physical block ``b`` returns: the dirty cache
    line if there is one, else the media (x86 caches are coherent)."""
    c = select(d, L.cache_col[g], b)
    return If(c != 0, c, select(d, L.media_col[g], b))


def file_view(L, d, f, x, g):
    """What read(2) of file ``f`` block ``x`` segment ``g`` returns now (dax_iomap_rw:
    zeros for a hole or unwritten extent, else the block's coherent contents)."""
    return If(d[L.ext_kind[f][x]] == WRITTEN, cpu_data(L, d, d[L.ext_pblk[f][x]], g), 0)


def persisted_view(L, d, f, x, g):
    """What read(2) would return after a crash now: the journaled extent map, the journaled
    size and the media only (caches, in-memory metadata lost)."""
    return If(
        And(d[L.jext_kind[f][x]] == WRITTEN, x < d[L.jsize[f]]),
        select(d, L.media_col[g], d[L.jext_pblk[f][x]]),
        0,
    )


def load_view(L, d, n, f, x, g):
    """What a userspace load through process ``n``'s PTE for ``f``/``x`` returns: 0 for the
    zero page, the process's anonymous copy for a MAP_PRIVATE CoW page, else the pmem
    block; only meaningful when the PTE is present."""
    k = d[L.pte_kind[n][f][x]]
    return If(
        k == PTE_ZERO,
        0,
        If(k == PTE_ANON, d[L.anon[n][f][x][g]], cpu_data(L, d, d[L.pte_pfn[n][f][x]], g)),
    )


def pmd_aligned_extent(L, s, f):
    """``(ok, base)``: every block of ``f`` is written and they lie on one PMD-aligned,
    physically contiguous run ``base..base+blocks-1`` (what dax_iomap_pmd_fault needs to map
    the range with one PMD: the iomap covers the PMD and its address is PMD-aligned)."""
    B = len(L.blks)
    base = s[L.ext_pblk[f][0]]
    ok = And(
        *[s[L.ext_kind[f][x]] == WRITTEN for x in L.blks],
        *[s[L.ext_pblk[f][x]] == base + x for x in L.blks[1:]],
        Or(*[base == a for a in range(0, len(L.phys) - B + 1, B)]),
    )
    return ok, base


def pmd_ptes_none(L, s, n, f):
    """pmd_none: process ``n`` has no page table under the PMD of ``f``'s range (no PTE
    and no PMD mapping)."""
    return And(
        s[L.pmd_map[n][f]] == 0, ForAll(L.blks, lambda x: s[L.pte_kind[n][f][x]] == PTE_NONE)
    )


def mapped(L, s, n, f):
    """Process ``n`` maps file ``f`` (any mode)."""
    return s[L.mmap_mode[n][f]] != MM_NONE


def clear_promise(L, d, f, x):
    """Drop the durability promise for ``f``/``x``: its contents are being changed.  (What
    was written there stays in ``ghost_written``: a crash before the next log commit can
    bring that data back legitimately.)"""
    for g in L.segs:
        d[L.ghost_durable[f][x][g]] = 0


def set_last(L, d, f, x, g, t):
    """Ghost: ``t`` is now the data last written at ``f``/``x``/``g`` (read_returns_last_write)."""
    d[L.ghost_last[f][x][g]] = t


def wrote(L, d, f, x, g, t):
    """Ghost bookkeeping of userspace data ``t`` written at ``f``/``x``/``g`` (write(2), a
    store, a DMA, a user's operation): it was written there (``ghost_written``), the
    offset's durability promise is withdrawn, and it is the last write (``ghost_last``)."""
    d[L.ghost_written[f][x][g][t - 1]] = 1
    d[L.ghost_durable[f][x][g]] = 0
    set_last(L, d, f, x, g, t)


def grow(L, d, f, end):
    """i_size of ``f`` grows to at least ``end`` blocks (never shrinks)."""
    o = L.size[f]
    d[o] = If(d[o] < end, end, d[o])


def promise(L, d, f, x):
    """Ghost: the current contents of ``f``/``x`` (:func:`file_view`) are promised durable
    (``ghost_durable`` = token + 1 per segment): fdatasync, msync, a durable flush."""
    for g in L.segs:
        d[L.ghost_durable[f][x][g]] = file_view(L, d, f, x, g) + 1
