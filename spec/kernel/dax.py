"""fs/dax.c: the DAX entries of an inode's xarray, page association, the fault paths,
writeback, copy-around for CoW and the dedupe compare.

Each ``@kernel_function`` here models the fs/dax.c function of the same name and is the
default body of the :class:`~daxcheck.spec.designs.Design` hook of that name; its first
parameter is the design ``D``, through which it calls the next kernel step.  The other
functions are helpers (one setting's body of a hook, or a part of a kernel function that
several kernel functions share).

Units: ``f`` file, ``x`` file block (page index), ``b``/``p`` pmem block (pfn), ``g``
segment, ``n`` process; ``L`` the layout, ``s`` a state, ``d`` a draft.
"""

from __future__ import annotations

from ..state import (
    HOLE,
    MM_PRIVATE,
    MM_SYNC,
    ORDER_PMD,
    ORDER_PTE,
    PG_NULL,
    PG_SHARED,
    PTE_ANON,
    PTE_RO,
    PTE_RW,
    PTE_ZERO,
    UNWRITTEN,
    WRITTEN,
    XA_EMPTY,
    XA_PFN,
    XA_ZERO,
)
from ..vocab import And, Exists, ForAll, If, Not, Or, require, select, store, when
from .pmem import copy_block, flush_block, nt_store, zero_segs
from .registry import Caller, kernel_function
from .views import cpu_data, file_view, pmd_aligned_extent, pmd_ptes_none
from .warn import declare_module_warnings, warn_on
from .xfs_iomap import write_effects, write_plan

DAX = "fs/dax.c"
PMD_MKCLEAN_DOC = (
    '"wrprotect" (writeback write-protects and cleans PMD mappings too, hook '
    "dax_entry_mkclean, 4.10 'dax: wrprotect pmd_t in dax_mapping_entry_mkclean') | "
    '"pte-only" (only 4 KiB PTEs: a PMD stays writable after writeback)'
)
"""The meaning of the ``pmd_mkclean`` setting (:func:`dax_entry_mkclean`'s two bodies)."""


# --------------------------------------------------------------------------- association
def associate_single_owner(L, d, b, f, x, shared):
    """dax_associate_entry before 5.19: one owner per page, ``WARN_ON_ONCE(page->mapping)``
    then overwrite page->mapping/index (the TODO about reflink in fs/dax.c)."""
    warn_on(
        L,
        d,
        select(d, L.page_mapping, b) != PG_NULL,
        "dax_associate_entry: page->mapping already set",
    )
    store(d, L.page_mapping, b, f + 1)
    store(d, L.page_index, b, x)


def disassociate_single_owner(L, d, b, f, x):
    """dax_disassociate_entry before 5.19: ``WARN_ON_ONCE(page->mapping && page->mapping !=
    mapping)``, then clear page->mapping and page->index."""
    m = select(d, L.page_mapping, b)
    warn_on(
        L,
        d,
        And(m != PG_NULL, m != f + 1),
        "dax_disassociate_entry: page->mapping is another file's",
    )
    store(d, L.page_mapping, b, PG_NULL)
    store(d, L.page_index, b, 0)


def associate_shared_count(L, d, b, f, x, shared):
    """dax_associate_entry since 6.2 ("fsdax: introduce page->share for fsdax in reflink
    mode"): a shared extent marks the page PAGE_MAPPING_DAX_SHARED and counts owners in
    page->share (an existing single owner becomes share 1 first); otherwise
    ``WARN_ON_ONCE(page->mapping)`` and one owner."""
    m = select(d, L.page_mapping, b)
    cnt = select(d, L.page_share, b)
    new_share = If(m == PG_SHARED, cnt + 1, If(m != PG_NULL, 2, 1))
    warn_on(L, d, And(Not(shared), m != PG_NULL), "dax_associate_entry: page->mapping already set")
    when(
        d,
        shared,
        lambda d: (
            store(d, L.page_mapping, b, PG_SHARED),
            store(d, L.page_index, b, 0),
            store(d, L.page_share, b, new_share),
        ),
    )
    when(
        d, Not(shared), lambda d: (store(d, L.page_mapping, b, f + 1), store(d, L.page_index, b, x))
    )


def disassociate_shared_count(L, d, b, f, x):
    """dax_disassociate_entry since 6.2: a shared page drops one share and becomes
    unowned at zero; a single-owner page is cleared (``WARN_ON_ONCE(page->mapping &&
    page->mapping != mapping)``)."""
    m = select(d, L.page_mapping, b)
    cnt = select(d, L.page_share, b)
    warn_on(
        L,
        d,
        And(m != PG_NULL, m != PG_SHARED, m != f + 1),
        "dax_disassociate_entry: page->mapping is another file's",
    )
    last = Or(m != PG_SHARED, cnt <= 1)
    store(d, L.page_share, b, If(last, 0, cnt - 1))
    store(d, L.page_mapping, b, If(last, PG_NULL, PG_SHARED))
    store(d, L.page_index, b, 0)


def truncate_pinned_warning(L, d, b):
    """dax_disassociate_entry(trunc): ``WARN_ON_ONCE(trunc && page_ref_count(page) > 1)``:
    a page whose block is being freed is still pinned (the filesystem did not wait in
    dax_layout_busy_page)."""
    warn_on(L, d, select(d, L.pinned, b) == 1, "dax_disassociate_entry: truncating a pinned page")


@kernel_function(DAX)
def dax_associate_entry(D, L, d, b, f, x, shared):
    """dax_associate_entry (fs/dax.c): record that file ``f`` index ``x`` maps pmem page
    ``b`` (``shared``: IOMAP_F_SHARED).  ``page_owner``: "shared-count" (6.2 page->share,
    :func:`associate_shared_count`) or "single-owner" (before 5.19)."""
    if D.page_owner == "single-owner":
        associate_single_owner(L, d, b, f, x, shared)
    else:
        associate_shared_count(L, d, b, f, x, shared)


@kernel_function(DAX)
def dax_disassociate_entry(D, L, d, b, f, x):
    """dax_disassociate_entry (fs/dax.c): the entry of ``f``/``x`` for page ``b`` goes
    away (``page_owner`` as :func:`dax_associate_entry`)."""
    if D.page_owner == "single-owner":
        disassociate_single_owner(L, d, b, f, x)
    else:
        disassociate_shared_count(L, d, b, f, x)


# --------------------------------------------------------------------------- entries
def break_pmd(D, L, d, f):
    """grab_mapping_entry's pmd_downgrade: a PMD entry of ``f`` is being replaced or
    invalidated: unmap the whole PMD range in every process and drop the PMD entry: a zero
    PMD's entries go, a pfn PMD's pages are written back and disassociated (through
    ``D.dax_writeback_one`` and ``D.dax_delete_mapping_entry``) and its entries go."""

    def zero(d):
        for x in L.blks:
            D.unmap_mapping_pages(L, d, f, x)
            d[L.xa_kind[f][x]] = If(d[L.xa_kind[f][x]] == XA_ZERO, XA_EMPTY, d[L.xa_kind[f][x]])
            d[L.xa_order[f][x]] = ORDER_PTE
        for n in L.procs:
            d[L.pmd_map[n][f]] = 0
        d[L.pmd_zero[f]] = 0

    def pfn(d):
        for x in L.blks:
            D.unmap_mapping_pages(L, d, f, x)
            D.dax_writeback_one(L, d, f, x)
            D.dax_delete_mapping_entry(L, d, f, x)
        for n in L.procs:
            d[L.pmd_map[n][f]] = 0
        d[L.pmd_pfn[f]] = 0

    when(d, d[L.pmd_zero[f]] == 1, zero)
    if D.pmd_pfn_entries:
        when(d, d[L.pmd_pfn[f]] == 1, pfn)


@kernel_function(DAX)
def dax_insert_entry(D, L, d, f, x, p, write, shared, sync=False):
    """dax_insert_entry (fs/dax.c, v6.12) for a pfn entry of ``f``/``x`` at block ``p``:
    ``dirty = write && !dax_fault_is_synchronous(...)`` (``sync``: the caller's
    :func:`dax_fault_is_synchronous` with IOMAP_F_DIRTY; the deprecated
    ``D.dax_mark_dirty`` can still veto the tag); a zero entry or a pfn entry for another
    block is invalidated first (unmapping its PTEs); a new entry associates the page
    (``D.dax_associate_entry``); a dirty entry is tagged PAGECACHE_TAG_DIRTY.  ``write``
    may be a plain bool or a term (callers written before 0.2 passed ``dirty`` here)."""
    dirty = False
    if write is not False:
        dirty = And(write, D.dax_mark_dirty(L, d, f))
        if sync is not False:
            dirty = And(dirty, Not(sync))
    break_mixed = Or(
        d[L.xa_kind[f][x]] == XA_ZERO, And(d[L.xa_kind[f][x]] == XA_PFN, d[L.xa_pfn[f][x]] != p)
    )
    when(d, break_mixed, lambda d: D.invalidate_inode_pages2_range(L, d, f, x, caller=Caller.FAULT))

    def fresh(d):
        D.dax_associate_entry(L, d, p, f, x, shared)
        d[L.xa_kind[f][x]] = XA_PFN
        d[L.xa_pfn[f][x]] = p

    when(d, d[L.xa_kind[f][x]] == XA_EMPTY, fresh)
    if dirty is not False:
        o = L.xa_dirty[f][x]
        d[o] = If(dirty, 1, d[o])


@kernel_function(DAX)
def dax_load_hole(D, L, d, n, f, x):
    """dax_load_hole (fs/dax.c): a read fault on a hole or unwritten extent inserts a
    zero-page entry (if the index has none) and maps the shared zero page read-only in
    process ``n``."""
    o = L.xa_kind[f][x]
    d[o] = If(d[o] == XA_EMPTY, XA_ZERO, d[o])
    d[L.pte_kind[n][f][x]] = PTE_ZERO
    d[L.pte_pfn[n][f][x]] = 0


def pmd_conflict(L, s, n, f, indices):
    """xas_find_conflict over ``indices`` of ``f``'s PMD range: some index has an entry of
    its own (not part of a PMD entry)."""
    return Exists(
        indices, lambda x: And(s[L.xa_kind[f][x]] != XA_EMPTY, s[L.xa_order[f][x]] == ORDER_PTE)
    )


@kernel_function("lib/xarray.c")
def xas_find_conflict(D, L, s, n, f):
    """grab_mapping_entry(PMD_ORDER) -> xas_find_conflict (lib/xarray.c): an entry of its
    own in the PMD range forces the fault back to PTEs ("index-only": the radix-tree era
    lookup at the aligned index only, history item 9)."""
    if D.pmd_conflict == "index-only":
        return s[L.xa_kind[f][0]] != XA_EMPTY
    return pmd_conflict(L, s, n, f, L.blks)


@kernel_function(DAX)
def dax_delete_mapping_entry(D, L, d, f, x):
    """dax_delete_mapping_entry / __dax_invalidate_entry (fs/dax.c): drop the xarray entry
    of ``f``/``x``, disassociating its page (``D.dax_disassociate_entry``) if it is a pfn
    entry."""
    when(
        d,
        d[L.xa_kind[f][x]] == XA_PFN,
        lambda d: D.dax_disassociate_entry(L, d, d[L.xa_pfn[f][x]], f, x),
    )
    d[L.xa_kind[f][x]] = XA_EMPTY
    d[L.xa_pfn[f][x]] = 0
    d[L.xa_dirty[f][x]] = 0
    d[L.xa_order[f][x]] = ORDER_PTE


@kernel_function(DAX)
def dax_iomap_iter_new(D, L, d, f, x, op):
    """dax_iomap_iter (fs/dax.c), IOMAP_F_NEW: a new mapping is invalidated before it is used,
    so a zero page mapped over the old hole goes away (4.12 'dax: fix data corruption due
    to stale mmap reads', generic/428).  ``op``: "write" for write(2), else a
    fault/seal/zero; ``new_invalidate="faults-only"`` skips write(2)."""
    if D.new_invalidate == "faults-only" and op == "write":
        return
    D.invalidate_inode_pages2_range(L, d, f, x, caller=Caller(op))


# --------------------------------------------------------------------------- writeback
@kernel_function(DAX)
def dax_entry_mkclean(D, L, d, f, x):
    """dax_entry_mkclean (fs/dax.c; dax_mapping_entry_mkclean before the 4.20 XArray
    conversion; since 5.18 dax_writeback_one walks i_mmap and calls pfn_mkclean_range,
    mm/rmap.c): walk every shared mapping of ``f``/``x`` and write-protect it, so the next
    store faults (pfn_mkwrite / the PMD's write fault) and re-tags the entry dirty.  A
    process mapping the index through a PMD (``pmd_map``; its PTEs mirror the PMD) has the
    PMD write-protected and cleaned (pmdp_invalidate, pmd_wrprotect, pmd_mkclean: 4.10
    f729c8c9b24f 'dax: wrprotect pmd_t in dax_mapping_entry_mkclean').  The setting
    ``pmd_mkclean="pte-only"`` selects the body before that commit: only 4 KiB PTEs are
    write-protected, a PMD stays writable and a store through it after writeback leaves no
    dirty entry for the next fdatasync."""
    for n in L.procs:
        o = L.pte_kind[n][f][x]
        wp = d[o] == PTE_RW
        if D.pmd_mkclean == "pte-only":
            wp = And(wp, d[L.pmd_map[n][f]] == 0)
        d[o] = If(wp, PTE_RO, d[o])


@kernel_function(DAX)
def dax_writeback_one(D, L, d, f, x):
    """dax_writeback_one (fs/dax.c): a dirty pfn entry's cache lines are flushed, the
    entry is cleaned and ``D.dax_entry_mkclean`` write-protects every mapping of the index
    (PTEs and PMDs)."""

    def go(d):
        flush_block(L, d, d[L.xa_pfn[f][x]])
        d[L.xa_dirty[f][x]] = 0
        D.dax_entry_mkclean(L, d, f, x)

    when(d, And(d[L.xa_kind[f][x]] == XA_PFN, d[L.xa_dirty[f][x]] == 1), go)


@kernel_function(DAX)
def dax_writeback_mapping_range(D, L, d, f):
    """dax_writeback_mapping_range (fs/dax.c) over the whole file: ``D.dax_writeback_one``
    of every index."""
    for x in L.blks:
        D.dax_writeback_one(L, d, f, x)


# --------------------------------------------------------------------------- data
def copy_around(L, d, src_kind, src, dst, segs, whole, single_iomap, zero_edges):
    """The body of :func:`dax_iomap_copy_around` for settings ``single_iomap``
    (``cow="single-iomap"``) and ``zero_edges`` (``cow_edges="zeroed"``): fill the CoW
    destination ``dst`` outside the written range (``segs``: the segments the write does
    not cover; all of them for a fault, ``whole``).  srcmap (5.19): copy from the source
    block; a hole or unwritten source is zeroed with ``zero_edges`` (2022 fix) and
    otherwise skipped (hole) or copied raw (unwritten).  ``single_iomap`` (IOMAP_F_COW,
    2019 btrfs series): the head/tail of an unaligned write are left as they are and a
    whole-page copy is raw, whatever the source type was (the information was dropped)."""
    if single_iomap:
        if whole:
            copy_block(L, d, src, dst, segs)
        return
    hole, unwritten = src_kind == HOLE, src_kind == UNWRITTEN
    if zero_edges:
        when(d, Or(hole, unwritten), lambda d: zero_segs(L, d, dst, segs))
    else:
        when(d, unwritten, lambda d: copy_block(L, d, src, dst, segs))
    when(d, And(Not(hole), Not(unwritten)), lambda d: copy_block(L, d, src, dst, segs))


@kernel_function(DAX)
def dax_iomap_copy_around(D, L, d, src_kind, src, dst, segs, whole):
    """dax_iomap_copy_around (fs/dax.c; dax_iomap_cow_copy before 6.1): fill the CoW
    destination ``dst`` outside the write (``segs``; all of them for a fault, ``whole``)
    from the srcmap block ``src`` of kind ``src_kind``, see :func:`copy_around` (settings
    ``cow``, ``cow_edges``)."""
    copy_around(
        L, d, src_kind, src, dst, segs, whole, D.cow == "single-iomap", D.cow_edges == "zeroed"
    )


@kernel_function(DAX)
def dax_copy_from_iter(D, L, d, p, g, t):
    """dax_copy_from_iter (fs/dax.c) -> memcpy_flushcache: write(2) stores token ``t``
    into segment ``g`` of block ``p`` with non-temporal stores (durable, no dirty line
    left)."""
    nt_store(L, d, p, g, t)


@kernel_function(DAX)
def dax_iomap_iter_copy(D, L, d, p, segs, t, avail):
    """dax_iomap_iter (fs/dax.c, v6.12), the copy of a write(2) after ->iomap_begin:
    ``D.dax_copy_from_iter`` of token ``t`` into each segment of ``segs`` (in order) of
    pmem block ``p``, where the user buffer supplies only the first ``avail`` segments (a
    fault in the user copy, or an uncorrectable source read, ends the copy short:
    ``xfer < map_len``, -EFAULT, and dax_iomap_rw returns ``done``, the bytes copied: 4.19
    a77d4786 'dax: Report bytes remaining for dax_iomap_actor').  Returns the segments
    write(2) reports written (its return value, in segments); the caller records them as the
    data written and extends i_size only over them.  A short copy into a CoW'd block leaves
    the rest of ``segs`` as the new block held (xfs_reflink_end_cow still remaps it)."""
    copied = tuple(segs)[:avail]
    for g in copied:
        D.dax_copy_from_iter(L, d, p, g, t)
    return copied


@kernel_function(DAX)
def dax_zero_range(D, L, d, f, x, segs):
    """dax_zero_range (fs/dax.c) -> dax_zero_iter -> dax_memzero: zero ``segs`` of
    ``f``/``x`` in place (a written, unshared block after ->iomap_begin(IOMAP_ZERO))."""
    zero_segs(L, d, d[L.ext_pblk[f][x]], segs)


@kernel_function(DAX)
def dax_layout_busy_page(D, L, s, f, x):
    """dax_layout_busy_page_range (fs/dax.c): the page under ``f``/``x``'s DAX entry is
    pinned (get_user_pages: O_DIRECT/RDMA in flight), so a layout change must wait
    (4.18/4.19, 'ext4: handle layout changes to pinned DAX mapping', generic/503);
    ``break_layouts="none"``: never busy."""
    if D.break_layouts == "none":
        return False
    return And(s[L.xa_kind[f][x]] == XA_PFN, select(s, L.pinned, s[L.xa_pfn[f][x]]) == 1)


@kernel_function(DAX)
def dax_range_compare_iter(D, L, s, a, x, b, y):
    """dax_range_compare_iter (fs/dax.c, 6.12) for block ``x`` of ``a`` and ``y`` of
    ``b``: two holes are the same, a hole and an extent differ, else memcmp of the two
    blocks' pmem through dax_direct_access, whatever the extents' state: an unwritten
    extent is compared by its raw, possibly stale, bytes (found by the real-DAX oracle:
    FIDEDUPERANGE of a fallocated block whose freed pmem still held 'A's against a
    written block of 'A's reports SAME and leaves the destination a hole).  Used by the
    "raw-media" ``dedupe_compare`` variants."""
    ka, kb = s[L.ext_kind[a][x]], s[L.ext_kind[b][y]]
    raw = And(
        *[
            cpu_data(L, s, s[L.ext_pblk[a][x]], g) == cpu_data(L, s, s[L.ext_pblk[b][y]], g)
            for g in L.segs
        ]
    )
    return Or(And(ka == HOLE, kb == HOLE), And(ka != HOLE, kb != HOLE, raw))


@kernel_function(DAX)
def dax_dedupe_file_range_compare(D, L, s, a, soff, b, doff, length):
    """dax_dedupe_file_range_compare (fs/dax.c): the ``length`` blocks of ``a`` from
    ``soff`` and of ``b`` from ``doff`` read the same ("stale-srcmap": the source iterator
    does not advance, 2022 'fsdax: dedupe: iter two files at the same time'; "raw-media":
    ``D.dax_range_compare_iter``)."""
    stale = D.dedupe_compare in ("stale-srcmap", "stale-raw-media")
    if D.dedupe_compare in ("raw-media", "stale-raw-media"):
        return And(
            *[
                D.dax_range_compare_iter(L, s, a, soff + (0 if stale else i), b, doff + i)
                for i in range(length)
            ]
        )
    return And(
        *[
            file_view(L, s, a, soff + (0 if stale else i), g) == file_view(L, s, b, doff + i, g)
            for i in range(length)
            for g in L.segs
        ]
    )


# --------------------------------------------------------------------------- faults
@kernel_function(DAX)
def dax_fault_is_synchronous(D, L, s, n, f):
    """dax_fault_is_synchronous (fs/dax.c): the fault is through a MAP_SYNC (VM_SYNC)
    mapping, so a write fault with IOMAP_F_DIRTY must make the metadata durable before the
    PTE becomes writable (the caller adds the IOMAP_WRITE and IOMAP_F_DIRTY conditions).
    False without ``mmap_map_sync`` or with ``sync_fault="never"``."""
    if not D.mmap_map_sync or D.sync_fault == "never":
        return False
    return s[L.mmap_mode[n][f]] == MM_SYNC


@kernel_function(DAX)
def dax_finish_sync_fault(D, L, d, f, x):
    """dax_finish_sync_fault (fs/dax.c): after VM_FAULT_NEEDDSYNC, vfs_fsync_range
    (datasync) of the faulting page (``D.dax_writeback_one``, ``D.xfs_log_force``), then
    dax_insert_pfn_mkwrite tags the entry PAGECACHE_TAG_DIRTY (the caller makes the PTE
    writable)."""
    D.dax_writeback_one(L, d, f, x)
    D.xfs_log_force(L, d)
    mark = D.dax_mark_dirty(L, d, f)
    if mark is not False:
        o = L.xa_dirty[f][x]
        d[o] = If(mark, 1, d[o])


@kernel_function(DAX)
def dax_fault_cow_page(D, L, d, n, f, x):
    """dax_fault_cow_page (fs/dax.c): a write fault on a MAP_PRIVATE mapping copies the
    file page (zeros for a hole) into a new anonymous page and maps it writable; no block
    is allocated.  A PMD mapping of the range is split first (``D.split_huge_pmd``; the
    huge-PMD write-protect fault of a DAX PMD falls back to PTEs)."""
    D.split_huge_pmd(L, d, n, f)
    for g in L.segs:
        d[L.anon[n][f][x][g]] = file_view(L, d, f, x, g)
    d[L.pte_kind[n][f][x]] = PTE_ANON
    d[L.pte_pfn[n][f][x]] = 0


def dax_insert_pfn(D, L, d, n, f, x, write, sync=False):
    """The pfn side of a fault (dax_fault_iter after ->iomap_begin): ``D.dax_insert_entry``
    for the extent's block, then vmf_insert_mixed(_mkwrite) maps it in process ``n``
    (writable for a write fault).  ``sync``: the fault is synchronous
    (dax_fault_is_synchronous with IOMAP_F_DIRTY): ``D.dax_finish_sync_fault`` runs
    between the insert and the PTE.  The caller has downgraded a PMD entry of the range
    first (:func:`break_pmd`, grab_mapping_entry)."""
    p = d[L.ext_pblk[f][x]]
    shared = D.iomap_f_shared(L, d, f, x, "read")
    D.dax_insert_entry(L, d, f, x, p, write, shared, sync)
    if sync is not False:
        when(d, sync, lambda d: D.dax_finish_sync_fault(L, d, f, x))
    d[L.pte_kind[n][f][x]] = PTE_RW if write else PTE_RO
    d[L.pte_pfn[n][f][x]] = p


@kernel_function(DAX)
def dax_fault_iter(D, L, d, n, f, x, write, private=False, new=False):
    """dax_fault_iter (fs/dax.c, v6.12) for a 4 KiB fault of process ``n`` on ``f``/``x``,
    after ->iomap_begin, in the kernel's order: a MAP_PRIVATE write fault (``private``,
    vmf->cow_page) is dax_fault_cow_page; a read fault on a hole or unwritten extent is
    dax_load_hole; else dax_insert_entry, then (modelled in ->iomap_begin, see below) the
    copy-around of a CoW, then dax_fault_is_synchronous (a MAP_SYNC write fault with
    IOMAP_F_DIRTY: ``D.dax_finish_sync_fault``), then vmf_insert_mixed(_mkwrite).  ``new``:
    ->iomap_begin reported IOMAP_F_NEW (what IOMAP_F_DIRTY is computed from in the "new"
    variant).  The CoW's copy-around and remap (xfs_reflink_end_cow, in ->iomap_end) are
    done by ``xfs_dax_write_iomap_begin`` before this function: moving them after the
    insert would make the remap's invalidation drop the entry just inserted in the
    model, where the kernel keeps it (its remap does not invalidate the faulting index)."""
    if private is not False:
        when(d, private, lambda d: D.dax_fault_cow_page(L, d, n, f, x))
    if not write:
        written = d[L.ext_kind[f][x]] == WRITTEN
        when(d, written, lambda d: dax_insert_pfn(D, L, d, n, f, x, False))
        when(d, Not(written), lambda d: D.dax_load_hole(L, d, n, f, x))
        return
    sync = D.dax_fault_is_synchronous(L, d, n, f)
    if sync is not False:
        sync = And(sync, D.iomap_f_dirty(L, d, f, x, new))
    when(d, Not(private), lambda d: dax_insert_pfn(D, L, d, n, f, x, True, sync))


@kernel_function(DAX)
def dax_iomap_pte_fault(D, L, d, n, f, x, write, vma=True):
    """dax_iomap_pte_fault (fs/dax.c, v6.12): a 4 KiB fault of process ``n`` on ``f``/``x``;
    ``vma``: the condition under which the fault reaches the DAX code at all (the
    operation's VMA, PTE and lock checks), required together with this function's own:
    VM_FAULT_SIGBUS at or past EOF; ->iomap_begin (IOMAP_WRITE unless vmf->cow_page:
    allocate, convert or CoW, decided before anything changes,
    :func:`~daxcheck.spec.kernel.xfs_iomap.write_plan`; ENOSPC or a refused CoW disables
    the fault).  Then grab_mapping_entry (a PMD entry of the range is downgraded,
    :func:`break_pmd`; not for a MAP_PRIVATE write fault, which never inserts an entry),
    ->iomap_begin's effects and ``D.dax_fault_iter``.  Returns False (disabled) before
    changing ``d``; call it at the top level of a transition (it calls ``require``).  (The
    ->iomap_begin decision is evaluated with the VMA checks, before they are known to hold,
    so a design hook is asked in the same states as before the fault was split into kernel
    functions.)"""
    if not write:
        if not require(And(vma, x < d[L.size[f]])):
            return False
        break_pmd(D, L, d, f)
        D.dax_fault_iter(L, d, n, f, x, False)
        return True
    new = D.iomap_f_new(L, d, f, x)
    plan, ok = write_plan(D, L, d, f, x, "fault")
    private = (d[L.mmap_mode[n][f]] == MM_PRIVATE) if D.private_mappings else False
    if not require(And(vma, x < d[L.size[f]], Or(private, ok))):
        return False
    when(
        d,
        Not(private),
        lambda d: (break_pmd(D, L, d, f), write_effects(D, L, d, f, x, (), "fault", plan)),
    )
    D.dax_fault_iter(L, d, n, f, x, True, private, new)
    return True


def dax_pmd_load_hole(D, L, d, n, f):
    """dax_pmd_load_hole (fs/dax.c): the PMD zero page over the whole range of ``f`` in
    process ``n``; an index with an entry of its own keeps it (the conflict)."""
    for x in L.blks:
        free = d[L.xa_kind[f][x]] == XA_EMPTY
        d[L.xa_order[f][x]] = If(free, ORDER_PMD, d[L.xa_order[f][x]])
        d[L.xa_kind[f][x]] = If(free, XA_ZERO, d[L.xa_kind[f][x]])
        d[L.pte_kind[n][f][x]] = PTE_ZERO
        d[L.pte_pfn[n][f][x]] = 0
    d[L.pmd_zero[f]] = 1


def pmd_entries_reusable(L, s, f, base):
    """grab_mapping_entry(PMD_ORDER) for a write fault: every index of ``f``'s PMD range is
    empty or already part of ``f``'s PMD pfn entry for the run starting at pmem block
    ``base`` (a write-protect fault on a mapped PMD finds its own entry)."""
    return ForAll(
        L.blks,
        lambda x: Or(
            s[L.xa_kind[f][x]] == XA_EMPTY,
            And(
                s[L.xa_kind[f][x]] == XA_PFN,
                s[L.xa_order[f][x]] == ORDER_PMD,
                s[L.xa_pfn[f][x]] == base + x,
            ),
        ),
    )


def dax_pmd_write(D, L, d, n, f, base):
    """The write side of dax_fault_iter for a PMD (fs/dax.c, v6.12) of process ``n`` over
    ``f``'s written, PMD-aligned run at pmem block ``base``: dax_insert_entry(DAX_PMD, dirty)
    associates each page of a new entry (``D.dax_associate_entry``) and tags the entry
    PAGECACHE_TAG_DIRTY unless the fault is synchronous (MAP_SYNC with IOMAP_F_DIRTY:
    VM_FAULT_NEEDDSYNC, then ``D.dax_finish_sync_fault`` of each index, which fsyncs and
    tags); vmf_insert_pfn_pmd(write) maps the PMD writable (its PTEs mirror it read-write)."""
    sync = D.dax_fault_is_synchronous(L, d, n, f)
    if sync is not False:
        sync = And(sync, D.iomap_f_dirty(L, d, f, 0, False))
    for x in L.blks:
        p = base + x

        def fresh(d, x=x, p=p):
            D.dax_associate_entry(L, d, p, f, x, D.iomap_f_shared(L, d, f, x, "read"))
            d[L.xa_kind[f][x]] = XA_PFN
            d[L.xa_pfn[f][x]] = p
            d[L.xa_order[f][x]] = ORDER_PMD

        when(d, d[L.xa_kind[f][x]] == XA_EMPTY, fresh)
        o = L.xa_dirty[f][x]
        d[o] = If(Not(sync), 1, d[o]) if sync is not False else 1
        if sync is not False:
            when(d, sync, lambda d, x=x: D.dax_finish_sync_fault(L, d, f, x))
        d[L.pte_kind[n][f][x]] = PTE_RW
        d[L.pte_pfn[n][f][x]] = p
    d[L.pmd_pfn[f]] = 1


@kernel_function(DAX)
def dax_iomap_pmd_fault(D, L, d, n, f, vma=True, write=False):
    """dax_iomap_pmd_fault (fs/dax.c): a fault of process ``n`` served by one PMD over
    indices 0..blocks-1 of ``f``.  Falls back (disabled) unless the PMD lies within EOF,
    ``n`` has no page table under the PMD (pmd_none) and grab_mapping_entry(PMD_ORDER)
    finds no conflict (``D.xas_find_conflict``).  ->iomap_begin reports the extent at
    index 0 and its length: over a hole at least a PMD long (``D.iomap_hole_length``) the
    PMD zero page is mapped (:func:`dax_pmd_load_hole`); with ``pmd_pfn_entries``, over a
    written, PMD-aligned, physically contiguous extent dax_insert_entry(DAX_PMD)
    associates each page and the PMD maps them read-only.  ``vma``: the operation's VMA
    and lock checks, required together with these (so the hooks are asked in the same
    states as before).

    ``write`` (FAULT_FLAG_WRITE; create_huge_pmd on pmd_none, or wp_huge_pmd -> huge_fault
    on ``n``'s read-only PMD: the PMD mkwrite; a writable PMD takes no fault):
    dax_fault_check_fallback falls back for a
    MAP_PRIVATE mapping (the caller splits, ``D.split_huge_pmd``); ->iomap_begin(IOMAP_WRITE)
    must report a written, unshared, PMD-aligned, physically contiguous extent (a hole,
    unwritten or shared extent would need an allocation, conversion or CoW of a whole PMD,
    which this model leaves to the 4 KiB path: fallback); grab_mapping_entry(PMD_ORDER)
    must find the range empty or ``f``'s own PMD entry for that run; then
    :func:`dax_pmd_write`.  Returns False (disabled) before changing ``d``; call it at the
    top level of a transition."""
    B = len(L.blks)
    if write:
        pfn, base = pmd_aligned_extent(L, d, f)
        ok = And(
            d[L.size[f]] >= B,
            d[L.mmap_mode[n][f]] != MM_PRIVATE,
            Or(
                pmd_ptes_none(L, d, n, f),
                And(d[L.pmd_map[n][f]] == 1, d[L.pte_kind[n][f][0]] != PTE_RW),
            ),
            d[L.pmd_zero[f]] == 0,
            pfn,
            pmd_entries_reusable(L, d, f, base),
            *[Not(D.iomap_f_shared(L, d, f, x, "fault")) for x in L.blks],
        )
        if not require(And(vma, ok)):
            return False
        dax_pmd_write(D, L, d, n, f, base)
        d[L.pmd_map[n][f]] = 1
        return True
    common = And(d[L.size[f]] >= B, pmd_ptes_none(L, d, n, f), Not(D.xas_find_conflict(L, d, n, f)))
    hole = And(d[L.ext_kind[f][0]] == HOLE, D.iomap_hole_length(L, d, f, 0, B) >= B)
    pfn, base = pmd_aligned_extent(L, d, f) if D.pmd_pfn_entries else (False, 0)
    if pfn is not False:
        pfn = And(pfn, ForAll(L.blks, lambda x: d[L.xa_kind[f][x]] == XA_EMPTY))
    if not require(And(vma, common, Or(hole, pfn))):
        return False

    def pfn_pmd(d):
        for x in L.blks:
            p = base + x
            D.dax_associate_entry(L, d, p, f, x, D.iomap_f_shared(L, d, f, x, "read"))
            d[L.xa_kind[f][x]] = XA_PFN
            d[L.xa_pfn[f][x]] = p
            d[L.xa_order[f][x]] = ORDER_PMD
            d[L.pte_kind[n][f][x]] = PTE_RO
            d[L.pte_pfn[n][f][x]] = p
        d[L.pmd_pfn[f]] = 1

    when(d, hole, lambda d: dax_pmd_load_hole(D, L, d, n, f))
    if pfn is not False:
        when(d, Not(hole), pfn_pmd)
    d[L.pmd_map[n][f]] = 1
    return True


declare_module_warnings(__file__)
