"""Kernel building blocks: the default bodies of the :class:`~daxcheck.spec.designs.Design`
hooks, and the data views the properties read.

Every function takes the layout ``L`` and a state or draft ``d`` (``bytes`` / ``bytearray``
concretely, a list of terms symbolically) and is written in :mod:`daxcheck.spec.vocab`, so
it may receive symbolic indices (a pfn read from the state).  A function named after a
kernel function models that function; the docstring says which.  Functions that take the
design ``D`` call the next kernel step through it (``D.dax_disassociate_entry(...)``), never
directly: a design that overrides one hook changes that step everywhere (both engines and
the byte-level replay run these same functions).

Units: ``f`` file index, ``x`` file block (4 KiB page index), ``b``/``p`` physical pmem
block (pfn), ``g`` segment of a block (``L.nsegs`` per block), ``n`` process, ``t`` data
token.
"""
from __future__ import annotations

from .state import (HOLE, UNWRITTEN, WRITTEN, XA_EMPTY, XA_ZERO, XA_PFN, PTE_NONE, PTE_RO,
                    PTE_RW, PTE_ZERO, PTE_ANON, PG_NULL, PG_SHARED, ORDER_PTE, MM_NONE,
                    WARNINGS)
from .vocab import And, Or, Not, If, ForAll, Exists, Count, select, store, when, first, require


# --------------------------------------------------------------------------- kernel WARNs
class SpecError(ValueError):
    """A transition or hook was written wrongly (e.g. an undeclared WARN message); the
    message names the problem."""


def kernel_warning(msg: str, origin: str = "shipped") -> str:
    """Declare a kernel WARN message (``"function: condition"``) that :func:`warn_on` may
    report; returns ``msg``.  Declaring it again is a no-op.  Messages are numbered in
    declaration order (shipped ones first, then each user file's, in the order the files
    are loaded), which is what the ``warning`` state field stores."""
    if not isinstance(msg, str) or not msg:
        raise SpecError("a kernel warning message must be a non-empty string")
    if msg not in WARNINGS:
        WARNINGS[msg] = origin
    return msg


def declare_warnings_in(source: str, origin: str) -> list[str]:
    """Declare every ``warn_on(..., "literal message")`` of Python ``source`` (a spec module
    or a user's file, parsed, not run), in source order, so a message's number does not
    depend on which transition happens to run first.  Returns the messages found."""
    import ast
    found = []
    try:
        tree = ast.parse(source, origin)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "warn_on":
            for arg in node.args[-1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(arg.value)
    for msg in sorted(set(found), key=found.index):
        kernel_warning(msg, origin)
    return found


def warn_on(L, d, cond, msg: str) -> None:
    """``WARN_ON_ONCE(cond)`` with message ``msg``: if ``cond`` holds and no warning was
    reached before, record ``msg``'s number in the ``warning`` field (sticky, like the
    first splat in dmesg).  The built-in invariant ``no_kernel_warning`` fails in any state
    where a warning was reached, and the trace shows the message.  The transition goes on
    (the kernel continues after a WARN).  Raises SpecError for a message not declared
    (literal messages in spec modules and user files are declared when they load)."""
    try:
        i = list(WARNINGS).index(msg) + 1
    except ValueError:
        raise SpecError(f"kernel warning {msg!r} is not declared: write the message as a "
                        f"string literal in the warn_on call or declare it with "
                        f"kernel_warning()") from None
    o = L.warning
    d[o] = If(And(cond, d[o] == 0), i, d[o])


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
    """What a userspace load through process ``n``'s PTE for ``f``/``x`` returns: 0 for the
    zero page, the process's anonymous copy for a MAP_PRIVATE CoW page, else the pmem
    block; only meaningful when the PTE is present."""
    k = d[L.pte_kind[n][f][x]]
    return If(k == PTE_ZERO, 0, If(k == PTE_ANON, d[L.anon[n][f][x][g]],
                                    cpu_data(L, d, d[L.pte_pfn[n][f][x]], g)))


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
    dax_iomap_copy_around, dax_zero_iter)."""
    for g in segs:
        store(d, L.media_col[g], b, 0)
        store(d, L.cache_col[g], b, 0)


def nt_store(L, d, b, g, t):
    """memcpy_flushcache of token ``t`` into segment ``g`` of block ``b``: non-temporal
    stores reach the media and leave no dirty cache line of the segment."""
    store(d, L.media_col[g], b, t)
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
    """The inode has metadata not yet in the journal (xfs_ipincount with
    ili_fsync_fields): in-memory and journaled map or size differ."""
    return Or(d[L.size[f]] != d[L.jsize[f]],
              Exists(L.blks, lambda x: Or(d[L.ext_kind[f][x]] != d[L.jext_kind[f][x]],
                                          d[L.ext_pblk[f][x]] != d[L.jext_pblk[f][x]])))


def hole_run(L, s, f, x, want):
    """Number of consecutive hole blocks of ``f`` from ``x`` (at most ``want``): the length
    xfs_bmapi_read / ext4_map_blocks reports for a hole."""
    n, run = 0, True
    for y in range(x, min(x + want, len(L.blks))):
        run = And(run, s[L.ext_kind[f][y]] == HOLE)
        n = n + If(run, 1, 0)
    return n


def pmd_aligned_extent(L, s, f):
    """``(ok, base)``: every block of ``f`` is written and they lie on one PMD-aligned,
    physically contiguous run ``base..base+blocks-1`` (what dax_iomap_pmd_fault needs to map
    the range with one PMD: the iomap covers the PMD and its address is PMD-aligned)."""
    B = len(L.blks)
    base = s[L.ext_pblk[f][0]]
    ok = And(*[s[L.ext_kind[f][x]] == WRITTEN for x in L.blks],
             *[s[L.ext_pblk[f][x]] == base + x for x in L.blks[1:]],
             Or(*[base == a for a in range(0, len(L.phys) - B + 1, B)]))
    return ok, base


# --------------------------------------------------------------------------- journal
def journal_commit(L, d):
    """xfs_log_force: every metadata transaction so far reaches the log, so the journaled
    map and sizes of every inode become the in-memory ones (the log is global and ordered)."""
    for f, x in L.file_blks:
        d[L.jext_kind[f][x]] = d[L.ext_kind[f][x]]
        d[L.jext_pblk[f][x]] = d[L.ext_pblk[f][x]]
    for f in L.files:
        d[L.jsize[f]] = d[L.size[f]]


def recover(L, d, per_inode_dax=True):
    """Power failure, mount and log recovery (xlog_recover + refcount btree): CPU caches,
    DAX entries, page tables, struct pages, anonymous pages and in-memory metadata are
    lost; the in-memory map, sizes and (with ``per_inode_dax``: else it stays set) S_DAX
    are rebuilt from the journal and the refcounts recomputed from it."""
    keep = set() if per_inode_dax else set(L.s_dax)
    for o in L.volatile:
        if o not in keep:
            d[o] = 0
    for f, x in L.file_blks:
        d[L.ext_kind[f][x]] = d[L.jext_kind[f][x]]
        d[L.ext_pblk[f][x]] = d[L.jext_pblk[f][x]]
    for f in L.files:
        d[L.size[f]] = d[L.jsize[f]]
        if per_inode_dax:
            d[L.s_dax[f]] = d[L.xflag_dax[f]]
    for b in L.phys:
        d[L.refcount[b]] = Count(L.file_blks, lambda fx: And(
            d[L.jext_kind[fx[0]][fx[1]]] != HOLE, d[L.jext_pblk[fx[0]][fx[1]]] == b))


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


def zap_pmd(L, d, n, f):
    """zap_huge_pmd / __split_huge_pmd of a DAX PMD: process ``n``'s PMD mapping of ``f``
    goes, with the PTEs that mirror it (the next access faults again)."""
    def go(d):
        for x in L.blks:
            k = d[L.pte_kind[n][f][x]]
            keep = k == PTE_ANON
            d[L.pte_kind[n][f][x]] = If(keep, k, PTE_NONE)
            d[L.pte_pfn[n][f][x]] = If(keep, d[L.pte_pfn[n][f][x]], 0)
        d[L.pmd_map[n][f]] = 0
    when(d, d[L.pmd_map[n][f]] == 1, go)


def break_pmd(D, L, d, f):
    """A PMD entry of ``f`` is being replaced or invalidated: unmap the whole PMD range in
    every process and drop the PMD entry (grab_mapping_entry's pmd downgrade): a zero PMD's
    entries go, a pfn PMD's pages are disassociated (design hook) and its entries go."""
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


def delete_entry(D, L, d, f, x):
    """__dax_invalidate_entry / dax_delete_mapping_entry: drop the xarray entry of
    ``f``/``x``, disassociating its page (design hook) if it is a pfn entry."""
    when(d, d[L.xa_kind[f][x]] == XA_PFN,
         lambda d: D.dax_disassociate_entry(L, d, d[L.xa_pfn[f][x]], f, x))
    d[L.xa_kind[f][x]] = XA_EMPTY
    d[L.xa_pfn[f][x]] = 0
    d[L.xa_dirty[f][x]] = 0
    d[L.xa_order[f][x]] = ORDER_PTE


def invalidate(D, L, d, f, x):
    """invalidate_inode_pages2_range / truncate_pagecache_range for one index: break a
    covering PMD entry, unmap every PTE of the index, delete its DAX entry."""
    break_pmd(D, L, d, f)
    D.unmap_mapping_pages(L, d, f, x)
    D.dax_delete_mapping_entry(L, d, f, x)


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


def writeback_file(D, L, d, f):
    """dax_writeback_mapping_range over the whole file."""
    for x in L.blks:
        D.dax_writeback_one(L, d, f, x)


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


def free_index(D, L, d, f, x):
    """Remove the extent of ``f``/``x`` after its mappings are gone: xfs_bunmapi +
    refcount decrease; the block becomes free in memory (busy until the log commits).
    The offset now reads zeros."""
    when(d, d[L.ext_kind[f][x]] != HOLE, lambda d: ref_add(L, d, d[L.ext_pblk[f][x]], -1))
    d[L.ext_kind[f][x]] = HOLE
    d[L.ext_pblk[f][x]] = 0
    clear_promise(L, d, f, x)
    for g in L.segs:
        set_last(L, d, f, x, g, 0)


def cow_remap(D, L, d, f, x, new):
    """xfs_reflink_end_cow: the file block now maps the CoW destination ``new``; the old
    block (if any: an always_cow write into a hole has none) loses a reference; the index's
    mappings and entry are invalidated first (dax_iomap_iter invalidates the range of a CoW
    write, dax_insert_entry unmaps a shared index)."""
    D.invalidate_inode_pages2_range(L, d, f, x)
    when(d, d[L.ext_kind[f][x]] != HOLE, lambda d: ref_add(L, d, d[L.ext_pblk[f][x]], -1))
    d[L.ext_kind[f][x]] = WRITTEN
    d[L.ext_pblk[f][x]] = new
    store(d, L.refcount, new, 1)


def copy_around(L, d, src_kind, src, dst, segs, whole, single_iomap, zero_edges):
    """dax_iomap_copy_around / dax_iomap_cow_copy: fill the CoW destination ``dst`` outside
    the written range (``segs``: the segments the write does not cover; all of them for a
    fault, ``whole``).  srcmap (5.19): copy from the source block; a hole or unwritten
    source is zeroed with ``zero_edges`` (2022 fix) and otherwise skipped (hole) or copied
    raw (unwritten).  ``single_iomap`` (IOMAP_F_COW, 2019 btrfs series): the head/tail of an
    unaligned write are left as they are and a whole-page copy is raw, whatever the source
    type was (the information was dropped)."""
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


def write_plan(D, L, d, f, x, op):
    """What ->iomap_begin(IOMAP_WRITE) decides for ``f``/``x`` before anything changes:
    ``(plan, ok)`` where ``plan`` = (extent kind, old block, IOMAP_F_SHARED, allocated
    block) and ``ok`` the enabling condition (a block is free if one is needed: else
    ENOSPC; the design lets a shared extent be CoW'd)."""
    kd = d[L.ext_kind[f][x]]
    old = d[L.ext_pblk[f][x]]
    shared = D.iomap_f_shared(L, d, f, x, "fault" if op in ("fault", "seal") else "write")
    needs_block = Or(kd == HOLE, shared)
    found, b = (False, 0) if needs_block is False else D.xfs_bmapi_write(L, d)
    ok = And(Or(Not(needs_block), found),
             Or(Not(shared), Not(D.is_iomap_immutable(L, d, f, "cow"))))
    return (kd, old, shared, b), ok


def write_effects(D, L, d, f, x, segs, op, plan):
    """The effects of a :func:`write_plan` (see :func:`begin_write`)."""
    kd, old, shared, b = plan

    def hole(d):
        D.xfs_zero_extent(L, d, b)
        D.dax_iomap_iter_new(L, d, f, x, op)
        d[L.ext_kind[f][x]] = WRITTEN
        d[L.ext_pblk[f][x]] = b
        store(d, L.refcount, b, 1)

    def convert(d):
        D.xfs_zero_extent(L, d, old)
        D.dax_iomap_iter_new(L, d, f, x, op)
        d[L.ext_kind[f][x]] = WRITTEN

    def cow(d):
        D.dax_iomap_copy_around(L, d, kd, old, b, [g for g in L.segs if g not in segs], not segs)
        D.xfs_reflink_end_cow(L, d, f, x, b)

    when(d, And(kd == HOLE, Not(shared)), hole)
    when(d, And(kd == UNWRITTEN, Not(shared)), convert)
    when(d, shared, cow)


def begin_write(D, L, d, f, x, segs, op="write"):
    """->iomap_begin(IOMAP_WRITE) for one block plus the data-side preparation DAX does
    before storing ``segs`` (xfs_direct_write_iomap_begin / xfs_dax_write_iomap_begin with
    dax_iomap_iter and dax_iomap_copy_around); ``op`` says who asks: "write" (write(2)),
    "fault" (a write fault), "seal", "zero" (dax_zero_range), "unshare":

    * IOMAP_F_SHARED (``D.iomap_f_shared``; always with XFS's always_cow): allocate a
      CoW-fork block (not zeroed), fill the segments outside ``segs`` from the source map
      (``D.dax_iomap_copy_around``), remap (``D.xfs_reflink_end_cow``);
    * else a hole: allocate a block (``D.xfs_bmapi_write``), zeroed (XFS_BMAPI_ZERO,
      ``D.xfs_zero_extent``), written; IOMAP_F_NEW;
    * else unwritten: zero it and convert in place (XFS_BMAPI_CONVERT); IOMAP_F_NEW;
    * written, not shared: in place.

    ``segs`` empty means a fault, seal or unshare: the CoW copies the whole block
    (copy_all).  An IOMAP_F_NEW mapping is invalidated (``D.dax_iomap_iter_new``).  Returns
    False (disabled: ENOSPC, or the design refuses the CoW) before changing ``d``; call it
    at the top level of a transition (it calls :func:`~daxcheck.spec.vocab.require`).
    """
    plan, ok = write_plan(D, L, d, f, x, op)
    if not require(ok):
        return False
    write_effects(D, L, d, f, x, segs, op, plan)
    return True


# --------------------------------------------------------------------------- association
def associate_single_owner(L, d, b, f, x, shared):
    """dax_associate_entry before 5.19: one owner per page, ``WARN_ON_ONCE(page->mapping)``
    then overwrite page->mapping/index (the TODO about reflink in fs/dax.c)."""
    warn_on(L, d, select(d, L.page_mapping, b) != PG_NULL,
            "dax_associate_entry: page->mapping already set")
    store(d, L.page_mapping, b, f + 1)
    store(d, L.page_index, b, x)


def disassociate_single_owner(L, d, b, f, x):
    """dax_disassociate_entry before 5.19: ``WARN_ON_ONCE(page->mapping && page->mapping !=
    mapping)``, then clear page->mapping and page->index."""
    m = select(d, L.page_mapping, b)
    warn_on(L, d, And(m != PG_NULL, m != f + 1),
            "dax_disassociate_entry: page->mapping is another file's")
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
    when(d, shared, lambda d: (store(d, L.page_mapping, b, PG_SHARED),
                               store(d, L.page_index, b, 0),
                               store(d, L.page_share, b, new_share)))
    when(d, Not(shared), lambda d: (store(d, L.page_mapping, b, f + 1),
                                    store(d, L.page_index, b, x)))


def disassociate_shared_count(L, d, b, f, x):
    """dax_disassociate_entry since 6.2: a shared page drops one share and becomes
    unowned at zero; a single-owner page is cleared (``WARN_ON_ONCE(page->mapping &&
    page->mapping != mapping)``)."""
    m = select(d, L.page_mapping, b)
    cnt = select(d, L.page_share, b)
    warn_on(L, d, And(m != PG_NULL, m != PG_SHARED, m != f + 1),
            "dax_disassociate_entry: page->mapping is another file's")
    last = Or(m != PG_SHARED, cnt <= 1)
    store(d, L.page_share, b, If(last, 0, cnt - 1))
    store(d, L.page_mapping, b, If(last, PG_NULL, PG_SHARED))
    store(d, L.page_index, b, 0)


def truncate_pinned_warning(L, d, b):
    """dax_disassociate_entry(trunc): ``WARN_ON_ONCE(trunc && page_ref_count(page) > 1)``:
    a page whose block is being freed is still pinned (the filesystem did not wait in
    dax_layout_busy_page)."""
    warn_on(L, d, select(d, L.pinned, b) == 1,
            "dax_disassociate_entry: truncating a pinned page")


# --------------------------------------------------------------------------- inserting
def insert_entry(D, L, d, f, x, p, dirty, shared):
    """dax_insert_entry for a pfn entry of ``f``/``x`` at block ``p``: a zero entry or a pfn
    entry for another block is invalidated first (unmapping its PTEs), a new entry
    associates the page (design hook), and a write fault tags it dirty."""
    break_mixed = Or(d[L.xa_kind[f][x]] == XA_ZERO,
                     And(d[L.xa_kind[f][x]] == XA_PFN, d[L.xa_pfn[f][x]] != p))
    when(d, break_mixed, lambda d: D.invalidate_inode_pages2_range(L, d, f, x))

    def fresh(d):
        D.dax_associate_entry(L, d, p, f, x, shared)
        d[L.xa_kind[f][x]] = XA_PFN
        d[L.xa_pfn[f][x]] = p
    when(d, d[L.xa_kind[f][x]] == XA_EMPTY, fresh)
    if dirty is not False:
        o = L.xa_dirty[f][x]
        d[o] = If(dirty, 1, d[o])


def insert_zero_entry(L, d, n, f, x):
    """dax_load_hole: insert a zero-page entry (if the index has none) and map the shared
    zero page read-only in process ``n``."""
    o = L.xa_kind[f][x]
    d[o] = If(d[o] == XA_EMPTY, XA_ZERO, d[o])
    d[L.pte_kind[n][f][x]] = PTE_ZERO
    d[L.pte_pfn[n][f][x]] = 0


def pmd_conflict(L, s, n, f, indices):
    """xas_find_conflict over ``indices`` of ``f``'s PMD range: some index has an entry of
    its own (not part of a PMD entry)."""
    return Exists(indices, lambda x: And(s[L.xa_kind[f][x]] != XA_EMPTY,
                                         s[L.xa_order[f][x]] == ORDER_PTE))


def pmd_ptes_none(L, s, n, f):
    """pmd_none: process ``n`` has no page table under the PMD of ``f``'s range (no PTE
    and no PMD mapping)."""
    return And(s[L.pmd_map[n][f]] == 0,
               ForAll(L.blks, lambda x: s[L.pte_kind[n][f][x]] == PTE_NONE))


def mapped(L, s, n, f):
    """Process ``n`` maps file ``f`` (any mode)."""
    return s[L.mmap_mode[n][f]] != MM_NONE


def declare_warnings_of(obj) -> None:
    """Declare the literal warn_on messages of the file defining ``obj`` (a user's action
    family or design class), in source order, when it is registered: a file's messages get
    the same numbers in every process that loads the same files in the same order (so a
    trace that records them replays)."""
    import inspect
    try:
        path = inspect.getsourcefile(obj if isinstance(obj, type) else type(obj))
    except TypeError:
        return
    if path and not path.startswith("<"):
        try:
            with open(path, encoding="utf-8") as fh:
                declare_warnings_in(fh.read(), path)
        except OSError:
            pass


def declare_module_warnings(module_file: str) -> None:
    """Declare the literal warn_on messages of a shipped spec module (called at the end of
    each module, so the numbering is fixed by import order)."""
    with open(module_file, encoding="utf-8") as fh:
        declare_warnings_in(fh.read(), "shipped")


declare_module_warnings(__file__)
