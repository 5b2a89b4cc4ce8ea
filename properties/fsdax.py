"""The shipped fsdax invariants.  Each is a predicate written in the vocabulary, so the
explicit and the symbolic engine evaluate the same code, and each is declared per item
(pmem page, file block, or file block segment) so a violation names the item and the
explicit engine memoises each conjunct on its own small read set."""

from __future__ import annotations

from daxcheck.spec.kernel.views import file_view, load_view, persisted_view
from daxcheck.spec.ops.races import cycles
from daxcheck.spec.state import (
    HOLE,
    MM_NONE,
    ORDER_PMD,
    PG_NULL,
    PG_SHARED,
    PTE_ANON,
    PTE_NONE,
    PTE_RO,
    PTE_RW,
    PTE_ZERO,
    WRITTEN,
    XA_EMPTY,
    XA_PFN,
    XA_ZERO,
)
from daxcheck.spec.vocab import And, Count, Exists, ForAll, If, Implies, Not, Or

from .registry import invariant


def pages(L):
    """Items: physical pmem pages (pfns)."""
    return L.phys


def file_blocks(L):
    """Items: (file, block) pairs."""
    return L.file_blks


def file_segments(L):
    """Items: (file, block, segment) triples."""
    return L.file_blk_segs


@invariant(each=pages)
def no_page_two_mappings(L, s, b):
    """No pmem page belongs to two (mapping, index) owners unless it is marked shared.

    For every physical page p, with A(p) the DAX entries (file, index) whose pfn is p:
    page->mapping NULL means A(p) is empty; a file's address_space means A(p) is exactly
    {(page->mapping, page->index)}; PAGE_MAPPING_DAX_SHARED means page->share == |A(p)|.
    Catches reflink on fsdax with single-owner page->mapping (seed 002: two files fault
    one shared block, WARN_ON_ONCE in dax_disassociate_entry) and the 2022
    read→reflink→read warning fixed in 6.2 (page->share).
    """

    def owns(fx):
        return And(s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN, s[L.xa_pfn[fx[0]][fx[1]]] == b)

    owners = Count(L.file_blks, owns)
    m = s[L.page_mapping[b]]
    single = And(m != PG_NULL, m != PG_SHARED)
    return And(
        Implies(m == PG_NULL, owners == 0),
        Implies(m == PG_SHARED, s[L.page_share[b]] == owners),
        Implies(
            single,
            And(
                owners == 1,
                ForAll(
                    L.file_blks,
                    lambda fx: Implies(owns(fx), And(m == fx[0] + 1, s[L.page_index[b]] == fx[1])),
                ),
            ),
        ),
    )


@invariant(each=file_blocks)
def immutable_extents_never_move(L, s, fx):
    """A sealed (S_IOMAP_IMMUTABLE) file's extents never move: every block stays written
    at the physical block it had when sealed, in memory and in the journal.

    Catches the 2017 daxfile design where a sealed file may be reflinked, so a later write
    must break the sharing by copy-on-write and remaps the sealed extent (seed 001,
    Chinner: "the copy-on-write operation requires allocating and freeing extents").
    """
    f, x = fx
    return Implies(
        s[L.sealed[f]] == 1,
        And(
            s[L.ext_kind[f][x]] == WRITTEN,
            s[L.ext_pblk[f][x]] == s[L.ghost_seal_pblk[f][x]],
            s[L.jext_kind[f][x]] == WRITTEN,
            s[L.jext_pblk[f][x]] == s[L.ghost_seal_pblk[f][x]],
        ),
    )


@invariant(each=file_segments)
def durable_after_sync(L, s, fxg):
    """Data a sync promised durable survives a crash at any moment: for every file offset
    with a promise (made by fdatasync, or by a userspace flush where the design says
    flushes are durable), what a crash would leave readable there (journaled extent map
    and size, media contents) is the promised data.

    Catches userspace flushes without the metadata sync needed to find the data
    (seed 004: the allocation is still only in memory), fsync that flushes nothing because
    dirty tracking is off for the inode (seed 004, mixed modes), sealed extents that move
    under a durable mapping (seed 001), and an in-place overwrite of a block that another
    file's journaled map still references (cow-in-core-refcount).
    """
    f, x, g = fxg
    promise = s[L.ghost_durable[f][x][g]]
    return Implies(promise != 0, persisted_view(L, s, f, x, g) == promise - 1)


def legit(L, s, f, x, g, v):
    """Data token ``v`` may be read at file ``f`` block ``x`` segment ``g``: zeros, or a
    token that was written there (``ghost_written``, which reflink inherits)."""
    return Or(
        v == 0, Exists(L.toks, lambda t: And(v == t, s[L.ghost_written[f][x][g][t - 1]] == 1))
    )


@invariant(each=file_segments)
def no_stale_data(L, s, fxg):
    """Every read(2) within i_size and every load through a mapped PTE returns data that
    was written to that file offset (directly, or inherited through reflink) or zeros;
    never another file's data, a freed block's data, or pmem contents from before mkfs.

    Catches the unaligned copy-on-write that leaves the head/tail of a newly allocated
    block uncopied (seed 003, single iomap) and the 2022 CoW over a hole/unwritten source
    that exposed the previous owner's data (dax_iomap_copy_around zero_edge fix).
    """
    f, x, g = fxg
    read = Implies(x < s[L.size[f]], legit(L, s, f, x, g, file_view(L, s, f, x, g)))
    loads = ForAll(
        L.procs,
        lambda n: Implies(
            file_pte(L, s, n, f, x), legit(L, s, f, x, g, load_view(L, s, n, f, x, g))
        ),
    )
    return And(read, loads)


def file_pte(L, s, n, f, x):
    """Process ``n`` has a PTE for ``f``/``x`` that maps file data (pmem or the zero page),
    not a MAP_PRIVATE anonymous copy (whose contents are the process's own)."""
    k = s[L.pte_kind[n][f][x]]
    return And(k != PTE_NONE, k != PTE_ANON)


@invariant(each=file_blocks)
def mapping_matches_extents(L, s, fx):
    """Every DAX entry and every PTE points where the extent map says: a pfn entry or a
    pfn PTE only over a written extent and at its physical block, a zero-page entry or
    zero-page PTE only over a hole or unwritten extent, and no PTE in an unmapped process.

    Catches a PMD zero page installed over blocks that are not a hole because the fault
    trusted a hole length the filesystem never reported (seed 000), and stale PTEs left
    after punch hole, truncate or CoW remapping (dax_layout_busy_page, generic/503).
    """
    f, x = fx
    xk, ek = s[L.xa_kind[f][x]], s[L.ext_kind[f][x]]
    entry = And(
        Implies(xk == XA_PFN, And(ek == WRITTEN, s[L.xa_pfn[f][x]] == s[L.ext_pblk[f][x]])),
        Implies(xk == XA_ZERO, ek != WRITTEN),
    )
    ptes = ForAll(
        L.procs,
        lambda n: And(
            Implies(
                Or(s[L.pte_kind[n][f][x]] == PTE_RO, s[L.pte_kind[n][f][x]] == PTE_RW),
                And(xk == XA_PFN, s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]]),
            ),
            Implies(s[L.pte_kind[n][f][x]] == PTE_ZERO, And(ek != WRITTEN, xk == XA_ZERO)),
            Implies(s[L.pte_kind[n][f][x]] != PTE_NONE, s[L.mmap_mode[n][f]] != MM_NONE),
        ),
    )
    return And(entry, ptes)


@invariant(each=pages)
def refcounts_consistent(L, s, b):
    """Each physical block's reference count equals the number of extents (written or
    unwritten, in any file) that map it; a block with count 0 is mapped by no extent.

    Catches reflink/CoW/punch paths that share or free a block without updating the
    refcount btree, which leads to double allocation and cross-file data exposure.
    """
    return s[L.refcount[b]] == Count(
        L.file_blks,
        lambda fx: And(s[L.ext_kind[fx[0]][fx[1]]] != HOLE, s[L.ext_pblk[fx[0]][fx[1]]] == b),
    )


@invariant(each=file_segments)
def no_stale_data_after_crash(L, s, fxg):
    """What a crash at this moment would leave readable (journaled extent map and size,
    media contents, caches lost) is data written to that file offset or zeros: recovery
    never exposes another file's data, a freed block's data, or pmem contents from before
    mkfs.

    Catches a journal commit that makes an extent written before its data reached the
    media (allocation without XFS_BMAPI_ZERO, unwritten conversion logged too early), and
    an in-place overwrite of a block that another inode's journaled map still references
    (the in-core refcount window, cow-in-core-refcount).
    """
    f, x, g = fxg
    return legit(L, s, f, x, g, persisted_view(L, s, f, x, g))


# ------------------------------------------------------------------- issue 8 properties
@invariant
def no_kernel_warning(L, s):
    """No kernel WARN_ON was reached: the ``warning`` field is 0.  A transition that reaches
    a ``warn_on`` (e.g. ``WARN_ON_ONCE(page->mapping)`` in dax_associate_entry) records the
    message, which the trace shows.

    Catches the paths the kernel itself asserts can never happen: a second owner
    associated with a pmem page (reflink before 5.19, the 2022 read→reflink→read warning
    fixed in 6.2), a page disassociated by a file that does not own it, a truncated page
    still pinned by DMA (dax_layout_busy_page not waited for, 4.19).
    """
    return s[L.warning] == 0


@invariant(each=file_segments, needs={"tokens": 2})
def read_returns_last_write(L, s, fxg):
    """read(2) within i_size, and every load through a PTE that maps the file, returns the
    data last written at that offset (by write(2), a store through a shared mapping, a DMA
    into a pinned DAX buffer, a clone, zeroing, punching, truncation; zeros if nothing was):
    POSIX read-after-write, per segment.  After a crash the recovered contents count as
    the last write (durability is durable_after_sync's business).

    Catches a write(2) that leaves a stale dirty cache line over its non-temporal stores
    (a later read returns the older data), a zero page still mapped after write(2)
    allocated the block (4.12 'dax: fix data corruption due to stale mmap reads',
    generic/428), a PMD zero page over written data (seed 000), dedupe sharing blocks that
    differ, a write fault on a shared block that writes in place, DMA landing in a block
    that was freed and reused.
    """
    f, x, g = fxg
    last = s[L.ghost_last[f][x][g]]
    read = Implies(x < s[L.size[f]], file_view(L, s, f, x, g) == last)
    loads = ForAll(
        L.procs, lambda n: Implies(file_pte(L, s, n, f, x), load_view(L, s, n, f, x, g) == last)
    )
    return And(read, loads)


@invariant(each=file_blocks, exercised_by=("reflink", "dedupe"))
def dedupe_shares_equal_data(L, s, fx):
    """Two file offsets whose extents share a physical block (reflink, FICLONERANGE,
    FIDEDUPERANGE) were last written with the same data, segment by segment: sharing
    never changes what either offset holds, and a shared block is never written in place
    (a write CoWs it first).

    Catches dedupe comparing the wrong ranges (2022, 'fsdax: dedupe: iter two files at the
    same time': the source iterator did not advance) and a write fault that ignores
    IOMAP_F_SHARED and stores into a block another file still references (DAX faults
    before 5.19's dax_iomap_cow_copy).
    """
    f, x = fx
    p = s[L.ext_pblk[f][x]]
    return Implies(
        s[L.ext_kind[f][x]] == WRITTEN,
        ForAll(
            L.file_blks,
            lambda gy: Implies(
                And(
                    gy != (f, x),
                    s[L.ext_kind[gy[0]][gy[1]]] == WRITTEN,
                    s[L.ext_pblk[gy[0]][gy[1]]] == p,
                ),
                ForAll(
                    L.segs, lambda g: s[L.ghost_last[f][x][g]] == s[L.ghost_last[gy[0]][gy[1]][g]]
                ),
            ),
        ),
    )


@invariant(each=pages, exercised_by=("pin", "dio_read"))
def pinned_pages_stay_allocated(L, s, b):
    """A pmem page pinned by get_user_pages (an O_DIRECT read or RDMA into a DAX mapping)
    stays allocated to the file offset it was pinned through until the pin is dropped:
    that extent is written and maps the page (the DMA target is the filesystem block).

    Catches punch hole / truncate freeing a block whose page is still the target of DMA,
    so the allocator hands it to another file and the DMA lands there (fixed by
    dax_layout_busy_page and xfs_break_layouts, 4.18/4.19, 'ext4: handle layout changes to
    pinned DAX mapping', xfstests generic/503).
    """
    return Implies(
        s[L.pinned[b]] == 1,
        Exists(
            L.file_blks,
            lambda fx: And(
                s[L.pin_file[b]] == fx[0],
                s[L.pin_idx[b]] == fx[1],
                s[L.ext_kind[fx[0]][fx[1]]] == WRITTEN,
                s[L.ext_pblk[fx[0]][fx[1]]] == b,
            ),
        ),
    )


@invariant(each=lambda L: L.files)
def pmd_excludes_pte(L, s, f):
    """A PMD entry of a file's DAX xarray excludes PTE-sized entries in its range: while the
    file has a PMD (zero-page or pfn) entry, every index of the range belongs to it, and
    no index claims the PMD order without one; in each process a PMD mapping excludes PTE
    mappings of the range (its PTEs mirror the PMD: the zero page, or the PMD's pfns,
    read-only or, after a PMD write fault, writable).

    Catches a PMD inserted over 4 KiB entries the lookup missed (2016 zero-page entries
    left in the tree; 2018 XArray conversion, fixed with xas_find_conflict) and a
    MAP_PRIVATE write fault that installs a PTE under a live PMD mapping instead of
    splitting it (generic/437, 'mm: avoid spurious bad pmd warning messages').
    """
    pmd = Or(s[L.pmd_zero[f]] == 1, s[L.pmd_pfn[f]] == 1)
    xa = ForAll(
        L.blks,
        lambda x: And(
            Implies(pmd, And(s[L.xa_order[f][x]] == ORDER_PMD, s[L.xa_kind[f][x]] != XA_EMPTY)),
            Implies(s[L.xa_order[f][x]] == ORDER_PMD, pmd),
        ),
    )
    ptes = ForAll(
        L.procs,
        lambda n: Implies(
            s[L.pmd_map[n][f]] == 1,
            And(
                pmd,
                ForAll(
                    L.blks,
                    lambda x: If(
                        s[L.pmd_zero[f]] == 1,
                        s[L.pte_kind[n][f][x]] == PTE_ZERO,
                        And(
                            Or(s[L.pte_kind[n][f][x]] == PTE_RO, s[L.pte_kind[n][f][x]] == PTE_RW),
                            s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]],
                        ),
                    ),
                ),
            ),
        ),
    )
    return And(xa, ptes)


@invariant(each=lambda L: L.files)
def dax_flag_changes_only_when_unmapped(L, s, f):
    """An inode without S_DAX has no DAX state: no DAX xarray entry and no process PTE
    reaching pmem or the zero page.  S_DAX may change only while the inode has no
    mappings and no entries (it takes effect at inode eviction since 5.8).

    Catches turning DAX off under a live mapping (2018: chattr +j / the DAX mount option
    changed while a file was mapped: later page-cache writeback overwrote DAX data;
    per-inode DAX, xfstests generic/605-608).
    """
    return Implies(
        s[L.s_dax[f]] == 0,
        And(
            ForAll(L.blks, lambda x: s[L.xa_kind[f][x]] == XA_EMPTY),
            ForAll(
                L.procs,
                lambda n: ForAll(
                    L.blks,
                    lambda x: Or(
                        s[L.pte_kind[n][f][x]] == PTE_NONE, s[L.pte_kind[n][f][x]] == PTE_ANON
                    ),
                ),
            ),
        ),
    )


def waiter_cycles(L):
    """Items: cycles of distinct kernel threads (none in a design without threads)."""
    return cycles(L.threads) if L.waits_for is not None else ()


@invariant(each=waiter_cycles, needs={"threads": 2})
def no_deadlock(L, s, c):
    """No cycle of kernel threads waits for each other's locks: for the threads
    T0 -> T1 -> ... -> T0 of the item, it is not the case that each is at a step that needs
    a lock (DAX entry lock, XFS MMAPLOCK, a page pin it must see dropped) the next one
    holds.  Such threads are blocked forever (no atomic operation releases a thread's
    lock); the failing item names the cycle.  Holds trivially in designs without split
    operations.

    Catches a hole punch that sleeps on a pinned page holding XFS_MMAPLOCK_EXCL while the
    O_DIRECT read that pinned it must fault its next page, which needs MMAPLOCK (fixed by
    dropping the lock in xfs_wait_dax_page, 4.19 'xfs, dax: introduce
    xfs_break_dax_layouts()'), and any lock-order inversion between split operations.
    """
    W = L.waits_for
    n = len(c.threads)
    return Not(And(*[W(L, s, c.threads[i], c.threads[(i + 1) % n]) for i in range(n)]))
