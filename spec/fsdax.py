"""Kernel building blocks shared by the actions: views of data, allocation, DAX entries,
page association, writeback and the journal.

Every function takes the layout ``L`` and a state or draft ``d`` (``bytes`` / ``bytearray``
concretely, a list of terms symbolically) and is written in :mod:`daxcheck.spec.vocab`, so
it may receive symbolic indices (a pfn read from the state).  Functions named after a
kernel function model that function; the docstring says which.
"""
from __future__ import annotations

from .state import (HOLE, UNWRITTEN, WRITTEN, XA_EMPTY, XA_ZERO, XA_PFN, PTE_NONE, PTE_RO,
                    PTE_RW, PTE_ZERO, PG_NULL, PG_SHARED)
from .vocab import And, Or, Not, If, ForAll, Exists, select, store, when, first, require


# --------------------------------------------------------------------------- data views
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
    return If(And(d[L.jext_kind[f][x]] == WRITTEN, x < d[L.jsize[f]]),
              select(d, L.media_col[g], d[L.jext_pblk[f][x]]), 0)


def load_view(L, d, n, f, x, g):
    """What a userspace load through process ``n``'s PTE for ``f``/``x`` returns (0 for the
    zero page); only meaningful when the PTE is present."""
    k = d[L.pte_kind[n][f][x]]
    return If(k == PTE_ZERO, 0, cpu_data(L, d, d[L.pte_pfn[n][f][x]], g))


# --------------------------------------------------------------------------- allocation
def allocatable(L, d, b):
    """Block ``b`` may be handed out: refcount 0 in memory and not referenced by the
    journaled block map (XFS busy extents, xfs_extent_busy_*: a freed extent is not reused
    until the transaction that freed it is on disk)."""
    return And(d[L.refcount[b]] == 0,
               ForAll(L.file_blks, lambda fx: Or(d[L.jext_kind[fx[0]][fx[1]]] == HOLE,
                                                 d[L.jext_pblk[fx[0]][fx[1]]] != b)))


def find_free(L, d):
    """Lowest allocatable block: ``(found, b)`` (xfs_bmap_btalloc, deterministic)."""
    return first(L.phys, lambda b: allocatable(L, d, b))


def zero_block(L, d, b):
    """dax_zero_page_range on block ``b``: non-temporal zeroing, flushed (durable), which
    also drops any dirty cache line of the block."""
    zero_segs(L, d, b, L.segs)


def copy_block(L, d, src, dst, segs):
    """Copy segments ``segs`` of block ``src`` (coherent CPU read) to ``dst`` with
    non-temporal stores (copy_mc_to_kernel + flush in dax_iomap_copy_around)."""
    for g in segs:
        store(d, L.media_col[g], dst, cpu_data(L, d, src, g))
        store(d, L.cache_col[g], dst, 0)


def zero_segs(L, d, b, segs):
    """Zero segments ``segs`` of block ``b`` on media (the zero_edge branch of
    dax_iomap_copy_around)."""
    for g in segs:
        store(d, L.media_col[g], b, 0)
        store(d, L.cache_col[g], b, 0)


def ref_add(L, d, b, delta):
    """refcount[b] += delta (xfs_refcount_increase/decrease; 0 frees the block)."""
    store(d, L.refcount, b, select(d, L.refcount, b) + delta)


def is_shared(L, d, f, x, journal=True):
    """IOMAP_F_SHARED: the extent's block has more than one reference in the in-core
    refcount btree (reflinked) or, with ``journal``, is still referenced by another
    inode's *journaled* map (a CoW remap or punch not yet committed): overwriting it in
    place would change what that inode reads after a crash."""
    k = d[L.ext_kind[f][x]]
    if type(k) is int and k == HOLE:  # concrete shortcut; symbolic kinds take the general path
        return False
    p = d[L.ext_pblk[f][x]]
    shared = select(d, L.refcount, p) > 1
    if journal and shared is not True:
        shared = Or(shared, Exists(L.file_blks, lambda gy: And(
            gy != (f, x), d[L.jext_kind[gy[0]][gy[1]]] != HOLE,
            d[L.jext_pblk[gy[0]][gy[1]]] == p)))
    return And(k != HOLE, shared)


def inode_meta_dirty(L, d, f):
    """IOMAP_F_DIRTY: the inode has metadata not yet in the journal (xfs_ipincount with
    ili_fsync_fields), i.e. in-memory and journaled map or size differ."""
    return Or(d[L.size[f]] != d[L.jsize[f]],
              Exists(L.blks, lambda x: Or(d[L.ext_kind[f][x]] != d[L.jext_kind[f][x]],
                                          d[L.ext_pblk[f][x]] != d[L.jext_pblk[f][x]])))


# --------------------------------------------------------------------------- journal
def journal_commit(L, d):
    """xfs_log_force: every metadata transaction so far reaches the log, so the journaled
    map and sizes of every inode become the in-memory ones (the log is global and ordered)."""
    for f, x in L.file_blks:
        d[L.jext_kind[f][x]] = d[L.ext_kind[f][x]]
        d[L.jext_pblk[f][x]] = d[L.ext_pblk[f][x]]
    for f in L.files:
        d[L.jsize[f]] = d[L.size[f]]


# --------------------------------------------------------------------------- CPU cache
def flush_block(L, d, b):
    """clwb/clflushopt of every line of block ``b`` followed by sfence: dirty lines reach
    the media and become clean."""
    for g in L.segs:
        c = select(d, L.cache_col[g], b)
        store(d, L.media_col[g], b, If(c != 0, c, select(d, L.media_col[g], b)))
        store(d, L.cache_col[g], b, 0)


# --------------------------------------------------------------------------- mappings
def unmap(L, d, f, x):
    """unmap_mapping_pages for one index: drop every process's PTE of ``f``/``x``."""
    for n in L.procs:
        d[L.pte_kind[n][f][x]] = PTE_NONE
        d[L.pte_pfn[n][f][x]] = 0


def break_pmd(D, L, d, f):
    """A PMD zero entry of ``f`` is being replaced or invalidated: unmap the whole PMD range
    in every process and drop the zero entries (grab_mapping_entry's pmd downgrade)."""
    def go(d):
        for x in L.blks:
            unmap(L, d, f, x)
            d[L.xa_kind[f][x]] = If(d[L.xa_kind[f][x]] == XA_ZERO, XA_EMPTY, d[L.xa_kind[f][x]])
        d[L.pmd_zero[f]] = 0
    when(d, d[L.pmd_zero[f]] == 1, go)


def delete_entry(D, L, d, f, x):
    """__dax_invalidate_entry / dax_delete_mapping_entry: drop the xarray entry of
    ``f``/``x``, disassociating its page (design hook) if it is a pfn entry."""
    when(d, d[L.xa_kind[f][x]] == XA_PFN,
         lambda d: D.disassociate(L, d, d[L.xa_pfn[f][x]], f, x))
    d[L.xa_kind[f][x]] = XA_EMPTY
    d[L.xa_pfn[f][x]] = 0
    d[L.xa_dirty[f][x]] = 0


def invalidate(D, L, d, f, x):
    """invalidate_inode_pages2_range / truncate_pagecache_range for one index: break a
    covering PMD zero entry, unmap every PTE of the index, delete its DAX entry."""
    break_pmd(D, L, d, f)
    unmap(L, d, f, x)
    delete_entry(D, L, d, f, x)


def writeback_entry(L, d, f, x):
    """dax_writeback_one: a dirty pfn entry's cache lines are flushed, the entry is cleaned
    and dax_entry_mkclean write-protects every PTE of the index."""
    def go(d):
        flush_block(L, d, d[L.xa_pfn[f][x]])
        d[L.xa_dirty[f][x]] = 0
        for n in L.procs:
            o = L.pte_kind[n][f][x]
            d[o] = If(d[o] == PTE_RW, PTE_RO, d[o])
    when(d, And(d[L.xa_kind[f][x]] == XA_PFN, d[L.xa_dirty[f][x]] == 1), go)


def writeback_file(L, d, f):
    """dax_writeback_mapping_range over the whole file."""
    for x in L.blks:
        writeback_entry(L, d, f, x)


def clear_promise(L, d, f, x):
    """Drop the durability promise for ``f``/``x``: its contents are being changed.  (What
    was written there stays in ``ghost_written``: a crash before the next log commit can
    bring that data back legitimately.)"""
    for g in L.segs:
        d[L.ghost_durable[f][x][g]] = 0


def free_index(D, L, d, f, x):
    """Remove the extent of ``f``/``x`` after its mappings are gone: xfs_bunmapi +
    refcount decrease; the block becomes free in memory (busy until the log commits)."""
    when(d, d[L.ext_kind[f][x]] != HOLE, lambda d: ref_add(L, d, d[L.ext_pblk[f][x]], -1))
    d[L.ext_kind[f][x]] = HOLE
    d[L.ext_pblk[f][x]] = 0
    clear_promise(L, d, f, x)


def punch_index(D, L, d, f, x):
    """xfs_free_file_space for one block: break layouts, write back and unmap
    (xfs_flush_unmap_range), then free the extent."""
    writeback_entry(L, d, f, x)
    invalidate(D, L, d, f, x)
    free_index(D, L, d, f, x)


def cow_remap(D, L, d, f, x, new):
    """xfs_reflink_end_cow: the file block now maps the CoW destination ``new``; the old
    block loses a reference; the index's mappings and entry are invalidated first
    (dax_iomap_iter invalidates the range of a CoW write, dax_insert_entry unmaps a shared
    index)."""
    invalidate(D, L, d, f, x)
    ref_add(L, d, d[L.ext_pblk[f][x]], -1)
    d[L.ext_kind[f][x]] = WRITTEN
    d[L.ext_pblk[f][x]] = new
    store(d, L.refcount, new, 1)


def begin_write(D, L, d, f, x, segs):
    """->iomap_begin(IOMAP_WRITE) for one block plus the data-side preparation DAX does
    before storing ``segs`` (xfs_direct_write_iomap_begin / xfs_dax_write_iomap_begin with
    dax_iomap_iter and dax_iomap_copy_around):

    * hole: allocate a block, zeroed (XFS_BMAPI_ZERO), written; IOMAP_F_NEW;
    * unwritten, not shared: zero it and convert in place (XFS_BMAPI_CONVERT); IOMAP_F_NEW;
    * shared (reflinked): allocate a CoW-fork block (not zeroed), let the design fill the
      segments outside ``segs`` from the source map (``D.cow_fill``), remap;
    * written, not shared: write in place.

    ``segs`` empty means a write fault: the CoW copies the whole block (copy_all).
    An IOMAP_F_NEW or CoW mapping invalidates the index's zero page / old pfn mappings.
    Returns False (disabled: ENOSPC, or the design refuses the CoW) before changing ``d``.
    """
    k = d[L.ext_kind[f][x]]
    old = d[L.ext_pblk[f][x]]
    shared = is_shared(L, d, f, x, D.shared_check == "in-core+journal")
    needs_block = Or(k == HOLE, shared)
    found, b = (False, 0) if needs_block is False else find_free(L, d)
    if not require(And(Or(Not(needs_block), found),
                       Or(Not(shared), D.cow_allowed(L, d, f)))):
        return False

    def hole(d):
        zero_block(L, d, b)
        invalidate(D, L, d, f, x)
        d[L.ext_kind[f][x]] = WRITTEN
        d[L.ext_pblk[f][x]] = b
        store(d, L.refcount, b, 1)

    def convert(d):
        zero_block(L, d, old)
        invalidate(D, L, d, f, x)
        d[L.ext_kind[f][x]] = WRITTEN

    def cow(d):
        D.cow_fill(L, d, k, old, b, [g for g in L.segs if g not in segs], not segs)
        cow_remap(D, L, d, f, x, b)

    when(d, k == HOLE, hole)
    when(d, And(k == UNWRITTEN, Not(shared)), convert)
    when(d, shared, cow)
    return True


# --------------------------------------------------------------------------- association
def associate_single_owner(L, d, b, f, x, shared):
    """dax_associate_entry before 5.19: one owner per page, ``WARN_ON_ONCE(page->mapping)``
    then overwrite page->mapping/index (the TODO about reflink in fs/dax.c)."""
    store(d, L.page_mapping, b, f + 1)
    store(d, L.page_index, b, x)


def disassociate_single_owner(L, d, b, f, x):
    """dax_disassociate_entry before 5.19: clear page->mapping and page->index."""
    store(d, L.page_mapping, b, PG_NULL)
    store(d, L.page_index, b, 0)


def associate_shared_count(L, d, b, f, x, shared):
    """dax_associate_entry since 6.2 ("fsdax: introduce page->share for fsdax in reflink
    mode"): a shared extent marks the page PAGE_MAPPING_DAX_SHARED and counts owners in
    page->share (an existing single owner becomes share 1 first); otherwise one owner."""
    m = select(d, L.page_mapping, b)
    cnt = select(d, L.page_share, b)
    new_share = If(m == PG_SHARED, cnt + 1, If(m != PG_NULL, 2, 1))
    when(d, shared, lambda d: (store(d, L.page_mapping, b, PG_SHARED),
                               store(d, L.page_index, b, 0),
                               store(d, L.page_share, b, new_share)))
    when(d, Not(shared), lambda d: (store(d, L.page_mapping, b, f + 1),
                                    store(d, L.page_index, b, x)))


def disassociate_shared_count(L, d, b, f, x):
    """dax_disassociate_entry since 6.2: a shared page drops one share and becomes
    unowned at zero; a single-owner page is cleared."""
    m = select(d, L.page_mapping, b)
    cnt = select(d, L.page_share, b)
    last = Or(m != PG_SHARED, cnt <= 1)
    store(d, L.page_share, b, If(last, 0, cnt - 1))
    store(d, L.page_mapping, b, If(last, PG_NULL, PG_SHARED))
    store(d, L.page_index, b, 0)
