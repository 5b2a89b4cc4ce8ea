"""The shipped strengthening lemmas for ``daxcheck prove``.

The durability and stale-data invariants are true in every reachable state but are not
inductive on their own: from an arbitrary state where they hold, one step can break them
(a dirty cache line that no DAX entry tracks is lost by fdatasync; a dirty line of a
reflinked block is flushed under another file).  The lemmas below are the bookkeeping
facts the kernel relies on to make them true: which dirty cache lines the DAX dirty tags
cover, which blocks a dirty entry owns, what a durability promise says about the current
contents.  Each is itself an invariant of the designs that get it right; the prover keeps
a lemma only where it proves it (Houdini), so in a design that breaks one (e.g. the
untracked dirty lines of mixed-dirty-tracking) it is dropped, not trusted.

Each lemma is declared per item like the invariants, in the vocabulary, so
``daxcheck check --property <lemma>`` confirms it with the explicit engine too.
"""

from __future__ import annotations

from daxcheck.spec.kernel.views import file_view
from daxcheck.spec.ops.races import SPLIT_FAMILIES
from daxcheck.spec.state import HOLE, MM_SYNC, PG_SHARED, PTE_RW, WRITTEN, XA_PFN
from daxcheck.spec.vocab import And, Exists, ForAll, Implies, Not, Or, select

from .fsdax import file_blocks, file_segments, legit
from .registry import lemma


def page_segments(L):
    """Items: (physical block, segment) pairs: one CPU cache line group each."""
    return tuple((b, g) for b in L.phys for g in L.segs)


def _jrefs(L, s, f, x, p):
    """(f, x) has a journaled extent on physical block p."""
    return And(s[L.jext_kind[f][x]] != HOLE, s[L.jext_pblk[f][x]] == p)


@lemma(each=file_blocks)
def extents_within_eof(L, s, fx):
    """No extent lies at or past EOF, in memory or in the journal: every block at or past
    i_size is a hole (truncate frees them, xfs_itruncate_extents; write, fallocate and
    reflink grow i_size to cover what they map).  Lets the prover equate "what read(2)
    returns" with "what the block holds" for every mapped block."""
    f, x = fx
    return And(
        Implies(s[L.ext_kind[f][x]] != HOLE, x < s[L.size[f]]),
        Implies(s[L.jext_kind[f][x]] != HOLE, x < s[L.jsize[f]]),
    )


@lemma(each=file_blocks)
def writable_pte_has_dirty_entry(L, s, fx):
    """Every writable PTE of a file index lies under a DAX entry tagged dirty: a write
    fault tags the entry (dax_insert_entry with dirty) before the PTE becomes writable and
    dax_entry_mkclean write-protects every PTE before writeback clears the tag.  This is
    what lets fdatasync find every page userspace may have stored to; the mixed
    userspace-sync mode of seed 004 breaks it."""
    f, x = fx
    return ForAll(
        L.procs, lambda n: Implies(s[L.pte_kind[n][f][x]] == PTE_RW, s[L.xa_dirty[f][x]] == 1)
    )


@lemma(each=file_blocks)
def dirty_entry_owns_block(L, s, fx):
    """A dirty DAX entry is a pfn entry over the index's own written extent, whose block
    no other extent maps in memory (refcount 1): write faults break sharing by CoW
    before they dirty an entry, and reflink writes the source range back first
    (xfs_reflink_remap_prep → filemap_write_and_wait_range)."""
    f, x = fx
    p = s[L.xa_pfn[f][x]]
    return Implies(
        s[L.xa_dirty[f][x]] == 1,
        And(
            s[L.xa_kind[f][x]] == XA_PFN,
            s[L.ext_kind[f][x]] == WRITTEN,
            s[L.ext_pblk[f][x]] == p,
            select(s, L.refcount, p) == 1,
        ),
    )


@lemma(each=file_blocks)
def dirty_block_not_in_other_journal(L, s, fx):
    """The block under a dirty DAX entry is in no other inode's journaled block map: an
    in-place overwrite of a block that a crash would hand back to another file never
    happens (the shared check counts journaled references; the cow-in-core-refcount
    design breaks this)."""
    f, x = fx
    p = s[L.xa_pfn[f][x]]
    return Implies(
        s[L.xa_dirty[f][x]] == 1,
        ForAll(L.file_blks, lambda hy: Or(hy == (f, x), Not(_jrefs(L, s, hy[0], hy[1], p)))),
    )


@lemma(each=page_segments)
def dirty_lines_have_dirty_entry(L, s, bg):
    """Every dirty CPU cache line of pmem belongs to a block some file's DAX entry maps
    with PAGECACHE_TAG_DIRTY set: the only stores are through writable PTEs, and every
    path that drops a dirty entry writes it back first (dax_writeback_one), so
    dax_writeback_mapping_range in fsync finds every line it must flush."""
    b, g = bg
    return Implies(
        s[L.cache[b][g]] != 0,
        Exists(
            L.file_blks,
            lambda fx: And(
                s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN,
                s[L.xa_pfn[fx[0]][fx[1]]] == b,
                s[L.xa_dirty[fx[0]][fx[1]]] == 1,
            ),
        ),
    )


@lemma(each=file_segments)
def mapped_block_holds_written_data(L, s, fxg):
    """The media and any dirty cache line under an in-memory written extent hold data
    written to that file offset (or inherited through reflink) or zeros: allocation
    zeroes (XFS_BMAPI_ZERO), unwritten conversion zeroes, CoW copies or zeroes around
    the write (dax_iomap_copy_around), and only the owner stores into a dirty line.
    The single-iomap CoW of seed 003 breaks it."""
    f, x, g = fxg
    p = s[L.ext_pblk[f][x]]
    return Implies(
        s[L.ext_kind[f][x]] == WRITTEN,
        And(
            legit(L, s, f, x, g, select(s, L.media_col[g], p)),
            legit(L, s, f, x, g, select(s, L.cache_col[g], p)),
        ),
    )


@lemma(each=file_segments)
def promise_matches_contents(L, s, fxg):
    """While a durability promise stands, the file offset still reads the promised data
    and no dirty cache line of its block is pending: every store, write(2), punch or
    reflink onto the offset withdraws the promise, and CoW copies the data along."""
    f, x, g = fxg
    promise = s[L.ghost_durable[f][x][g]]
    written = s[L.ext_kind[f][x]] == WRITTEN
    p = s[L.ext_pblk[f][x]]
    return Implies(
        promise != 0,
        And(
            file_view(L, s, f, x, g) == promise - 1,
            Implies(written, select(s, L.cache_col[g], p) == 0),
        ),
    )


@lemma(each=file_blocks)
def map_sync_writable_is_journaled(L, s, fx):
    """A writable PTE in a MAP_SYNC mapping maps an index whose extent is already in the
    journal, within the journaled i_size: the write fault returned VM_FAULT_NEEDDSYNC and
    dax_finish_sync_fault forced the log before installing it (4.15), and every later
    change to the extent unmaps the PTE first."""
    f, x = fx
    return ForAll(
        L.procs,
        lambda n: Implies(
            And(s[L.pte_kind[n][f][x]] == PTE_RW, s[L.mmap_mode[n][f]] == MM_SYNC),
            And(
                s[L.jext_kind[f][x]] == s[L.ext_kind[f][x]],
                s[L.jext_pblk[f][x]] == s[L.ext_pblk[f][x]],
                x < s[L.jsize[f]],
            ),
        ),
    )


@lemma(each=file_blocks)
def sealed_map_is_journaled_and_exclusive(L, s, fx):
    """A sealed (S_IOMAP_IMMUTABLE) file's block map is the journaled one, covers the
    whole file, and no other extent maps its blocks in memory or in the journal: the seal
    unshares, allocates and forces the log, and afterwards the design refuses every
    change (Wong/Williams 2017, seed 001)."""
    f, x = fx
    p = s[L.ext_pblk[f][x]]
    return Implies(
        s[L.sealed[f]] == 1,
        And(
            s[L.size[f]] == len(L.blks),
            s[L.jsize[f]] == len(L.blks),
            s[L.jext_kind[f][x]] == s[L.ext_kind[f][x]],
            s[L.jext_pblk[f][x]] == p,
            select(s, L.refcount, p) == 1,
            ForAll(L.file_blks, lambda hy: Or(hy == (f, x), Not(_jrefs(L, s, hy[0], hy[1], p)))),
        ),
    )


@lemma(each=lambda L: L.phys)
def shared_page_has_a_share(L, s, b):
    """A pmem page marked PAGE_MAPPING_DAX_SHARED has at least one share: the last
    dax_disassociate_entry of a shared page clears page->mapping (dax_page_share_put
    reaching 0).  With no_page_two_mappings this says a shared page has an owner, so a new
    association of it is always through a shared extent (no WARN_ON_ONCE(page->mapping))."""
    return Implies(s[L.page_mapping[b]] == PG_SHARED, s[L.page_share[b]] >= 1)


@lemma(each=file_segments)
def nothing_last_written_beyond_eof(L, s, fxg):
    """Past EOF the last data written is zeros: truncate and collapse zero what they cut
    off, a write that lands past EOF extends i_size over it, and a crash rebuilds both from
    the journal.  So extending i_size (fallocate, truncate up) exposes zeros, which is what
    read_returns_last_write expects there."""
    f, x, g = fxg
    return Implies(x >= s[L.size[f]], s[L.ghost_last[f][x][g]] == 0)


@lemma(each=lambda L: L.phys)
def pinned_page_has_entry(L, s, b):
    """A page pinned by get_user_pages is the pfn of the DAX entry of the offset it was
    pinned through: gup reached it through a PTE, which needs the entry, and every path
    that deletes the entry first waits in dax_layout_busy_page while the page is pinned
    (xfs_break_dax_layouts, 4.19)."""
    return Implies(
        s[L.pinned[b]] == 1,
        Exists(
            L.file_blks,
            lambda fx: And(
                s[L.pin_file[b]] == fx[0],
                s[L.pin_idx[b]] == fx[1],
                s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN,
                s[L.xa_pfn[fx[0]][fx[1]]] == b,
            ),
        ),
    )


@lemma(each=lambda L: L.threads if L.races else ())
def threads_hold_only_their_operations_locks(L, s, t):
    """A kernel thread holds a lock (or a page pin) only while it runs a split operation
    that takes that kind of lock, on that operation's own file and index
    (``SplitOp.HOLDS``): every operation drops what it took before it ends
    (dax_unlock_entry, xfs_iunlock, unpin_user_pages in dio_complete), so an idle thread
    holds nothing.  Race designs only (one item per thread); it lets k-induction rule out
    start states with locks no thread could have taken, the counterexamples to induction
    of ``no_deadlock``."""
    me = t + 1
    op, tf, tx = s[L.th_op[t]], s[L.th_file[t]], s[L.th_idx[t]]

    runs = {
        kind: Or(*[op == i + 1 for i, c in enumerate(SPLIT_FAMILIES.values()) if kind in c.HOLDS])
        for kind in ("entry", "io-excl", "mmap-excl", "mmap-shared", "pin")
    }
    conds = []
    for f, x in L.file_blks:
        conds.append(Implies(s[L.xa_lock[f][x]] == me, And(runs["entry"], tf == f, tx == x)))
    for f in L.files:
        conds.append(Implies(s[L.io_excl[f]] == me, And(runs["io-excl"], tf == f)))
        conds.append(Implies(s[L.mmap_excl[f]] == me, And(runs["mmap-excl"], tf == f)))
        conds.append(Implies(s[L.mmap_shared[f][t]] == 1, And(runs["mmap-shared"], tf == f)))
    for b in L.phys:
        conds.append(Implies(s[L.pin_holder[b]] == me, runs["pin"]))
    return And(*conds)
