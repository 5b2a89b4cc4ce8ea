"""The shipped fsdax invariants.  Each is a predicate over one state, written in the
vocabulary so the explicit and the symbolic engine evaluate the same code."""
from __future__ import annotations

from daxcheck.spec.fsdax import file_view, load_view, persisted_view
from daxcheck.spec.state import (HOLE, WRITTEN, XA_PFN, XA_ZERO, PTE_NONE, PTE_RO, PTE_RW,
                                 PTE_ZERO, MM_NONE, PG_NULL, PG_SHARED)
from daxcheck.spec.vocab import And, Or, Not, Implies, ForAll, Exists, Count

from .registry import invariant


@invariant
def no_page_two_mappings(L, s):
    """No pmem page belongs to two (mapping, index) owners unless it is marked shared.

    For every physical page p, with A(p) the DAX entries (file, index) whose pfn is p:
    page->mapping NULL means A(p) is empty; a file's address_space means A(p) is exactly
    {(page->mapping, page->index)}; PAGE_MAPPING_DAX_SHARED means page->share == |A(p)|.
    Catches reflink on fsdax with single-owner page->mapping (seed 002: two files fault
    one shared block, WARN_ON_ONCE in dax_disassociate_entry) and the 2022
    read→reflink→read warning fixed in 6.2 (page->share).
    """
    def page_ok(b):
        owners = Count(L.file_blks, lambda fx: And(s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN,
                                                   s[L.xa_pfn[fx[0]][fx[1]]] == b))
        m = s[L.page_mapping[b]]
        single = And(m != PG_NULL, m != PG_SHARED)
        return And(Implies(m == PG_NULL, owners == 0),
                   Implies(m == PG_SHARED, s[L.page_share[b]] == owners),
                   Implies(single, And(owners == 1, ForAll(L.file_blks, lambda fx: Implies(
                       And(s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN, s[L.xa_pfn[fx[0]][fx[1]]] == b),
                       And(m == fx[0] + 1, s[L.page_index[b]] == fx[1]))))))
    return ForAll(L.phys, page_ok)


@invariant
def immutable_extents_never_move(L, s):
    """A sealed (S_IOMAP_IMMUTABLE) file's extents never move: every block stays written
    at the physical block it had when sealed, in memory and in the journal.

    Catches the 2017 daxfile design where a sealed file may be reflinked, so a later write
    must break the sharing by copy-on-write and remaps the sealed extent (seed 001,
    Chinner: "the copy-on-write operation requires allocating and freeing extents").
    """
    return ForAll(L.file_blks, lambda fx: Implies(s[L.sealed[fx[0]]] == 1, And(
        s[L.ext_kind[fx[0]][fx[1]]] == WRITTEN,
        s[L.ext_pblk[fx[0]][fx[1]]] == s[L.ghost_seal_pblk[fx[0]][fx[1]]],
        s[L.jext_kind[fx[0]][fx[1]]] == WRITTEN,
        s[L.jext_pblk[fx[0]][fx[1]]] == s[L.ghost_seal_pblk[fx[0]][fx[1]]])))


@invariant
def durable_after_sync(L, s):
    """Data a sync promised durable survives a crash at any moment: for every file offset
    with a promise (made by fdatasync, or by a userspace flush where the design says
    flushes are durable), what a crash would leave readable there (journaled extent map
    and size, media contents) is the promised data.

    Catches userspace flushes without the metadata sync needed to find the data
    (seed 004: the allocation is still only in memory), fsync that flushes nothing because
    dirty tracking is off for the inode (seed 004, mixed modes), and sealed extents that
    move under a durable mapping (seed 001).
    """
    return ForAll(L.file_blks, lambda fx: ForAll(L.segs, lambda g: Implies(
        s[L.ghost_durable[fx[0]][fx[1]][g]] != 0,
        persisted_view(L, s, fx[0], fx[1], g) == s[L.ghost_durable[fx[0]][fx[1]][g]] - 1)))


def _legit(L, s, f, x, g, v):
    return Or(v == 0, Exists(L.toks, lambda t: And(
        v == t, s[L.ghost_written[f][x][g][t - 1]] == 1)))


@invariant
def no_stale_data(L, s):
    """Every read(2) within i_size and every load through a mapped PTE returns data that
    was written to that file offset (directly, or inherited through reflink) or zeros;
    never another file's data, a freed block's data, or pmem contents from before mkfs.

    Catches the unaligned copy-on-write that leaves the head/tail of a newly allocated
    block uncopied (seed 003, single iomap) and the 2022 CoW over a hole/unwritten source
    that exposed the previous owner's data (dax_iomap_copy_around zero_edge fix).
    """
    reads = ForAll(L.file_blks, lambda fx: ForAll(L.segs, lambda g: Implies(
        fx[1] < s[L.size[fx[0]]], _legit(L, s, fx[0], fx[1], g, file_view(L, s, fx[0], fx[1], g)))))
    loads = ForAll(L.procs, lambda n: ForAll(L.file_blks, lambda fx: Implies(
        s[L.pte_kind[n][fx[0]][fx[1]]] != PTE_NONE,
        ForAll(L.segs, lambda g: _legit(L, s, fx[0], fx[1], g, load_view(L, s, n, fx[0], fx[1], g))))))
    return And(reads, loads)


@invariant
def mapping_matches_extents(L, s):
    """Every DAX entry and every PTE points where the extent map says: a pfn entry or a
    pfn PTE only over a written extent and at its physical block, a zero-page entry or
    zero-page PTE only over a hole or unwritten extent, and no PTE in an unmapped process.

    Catches a PMD zero page installed over blocks that are not a hole because the fault
    trusted a hole length the filesystem never reported (seed 000), and stale PTEs left
    after punch hole, truncate or CoW remapping (dax_layout_busy_page, generic/503).
    """
    def index_ok(fx):
        f, x = fx
        xk, ek = s[L.xa_kind[f][x]], s[L.ext_kind[f][x]]
        entry = And(Implies(xk == XA_PFN, And(ek == WRITTEN, s[L.xa_pfn[f][x]] == s[L.ext_pblk[f][x]])),
                    Implies(xk == XA_ZERO, ek != WRITTEN))
        ptes = ForAll(L.procs, lambda n: And(
            Implies(Or(s[L.pte_kind[n][f][x]] == PTE_RO, s[L.pte_kind[n][f][x]] == PTE_RW),
                    And(xk == XA_PFN, s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]])),
            Implies(s[L.pte_kind[n][f][x]] == PTE_ZERO, And(ek != WRITTEN, xk == XA_ZERO)),
            Implies(s[L.pte_kind[n][f][x]] != PTE_NONE, s[L.mmap_mode[n][f]] != MM_NONE)))
        return And(entry, ptes)
    return ForAll(L.file_blks, index_ok)


@invariant
def refcounts_consistent(L, s):
    """Each physical block's reference count equals the number of extents (written or
    unwritten, in any file) that map it; a block with count 0 is mapped by no extent.

    Catches reflink/CoW/punch paths that share or free a block without updating the
    refcount btree, which leads to double allocation and cross-file data exposure.
    """
    return ForAll(L.phys, lambda b: s[L.refcount[b]] == Count(L.file_blks, lambda fx: And(
        s[L.ext_kind[fx[0]][fx[1]]] != HOLE, s[L.ext_pblk[fx[0]][fx[1]]] == b)))
