"""Persistent memory and the CPU cache (arch/x86/lib/usercopy_64.c, drivers/nvdimm,
arch_wb_cache_pmem): the primitives the kernel functions store and flush with.  Segment
``g`` of physical block ``b`` has a media value and a cache line (0 = clean).
"""

from __future__ import annotations

from ..vocab import If, select, store
from .views import cpu_data


def flush_block(L, d, b):
    """clwb/clflushopt of every line of block ``b`` followed by sfence: dirty lines reach
    the media and become clean."""
    for g in L.segs:
        c = select(d, L.cache_col[g], b)
        store(d, L.media_col[g], b, If(c != 0, c, select(d, L.media_col[g], b)))
        store(d, L.cache_col[g], b, 0)


def nt_store(L, d, b, g, t):
    """memcpy_flushcache of token ``t`` into segment ``g`` of block ``b``: non-temporal
    stores reach the media and leave no dirty cache line of the segment."""
    store(d, L.media_col[g], b, t)
    store(d, L.cache_col[g], b, 0)


def zero_segs(L, d, b, segs):
    """Zero segments ``segs`` of block ``b`` on media (the zero_edge branch of
    dax_iomap_copy_around, dax_zero_iter)."""
    for g in segs:
        store(d, L.media_col[g], b, 0)
        store(d, L.cache_col[g], b, 0)


def copy_block(L, d, src, dst, segs):
    """Copy segments ``segs`` of block ``src`` (coherent CPU read) to ``dst`` with
    non-temporal stores (copy_mc_to_kernel + flush in dax_iomap_copy_around)."""
    for g in segs:
        store(d, L.media_col[g], dst, cpu_data(L, d, src, g))
        store(d, L.cache_col[g], dst, 0)


def zero_block(L, d, b):
    """dax_zero_page_range on block ``b``: non-temporal zeroing, flushed (durable), which
    also drops any dirty cache line of the block."""
    zero_segs(L, d, b, L.segs)
