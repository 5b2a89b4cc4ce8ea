"""Designs: named variants of the fsdax actions, each taken from a seed thread.

A :class:`Design` fixes the kernel decisions the seeds argue about (page->mapping
bookkeeping, whether reflink is allowed, the CoW copy, the hole length the fault path
trusts, what a userspace flush promises, dirty tracking under MAP_SYNC) plus its *scope*:
which action families are explored and at which default bounds (like a TLA+ .cfg).  Every
decision is a method written in the vocabulary, so a user's variant is a subclass that
overrides one method, or a :meth:`Design.variant` with different settings, registered with
:func:`register_design` from a file passed to ``daxcheck check --designs FILE``.

The default of every setting is the merged-kernel (6.x) behaviour; each shipped design
changes one setting.  ``expect_violated`` is the exact set of properties the design violates
at its default bounds (the seed's claim and what else the bug breaks), compared with what
exploration computes by ``check --expect``, ``daxcheck gate`` and the tests.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import fsdax as k
from .state import Bounds, MM_SYNC, UNWRITTEN, HOLE, PTE_RW
from .vocab import And, Or, Not, If

DESIGNS: dict[str, "Design"] = {}

ALL_FAMILIES = ("mmap", "fault", "pmd_fault", "store", "flush", "write", "read", "fallocate",
                "seal", "reflink", "punch", "truncate", "fdatasync", "crash", "evict",
                "reflink_range")


class DesignError(ValueError):
    """An invalid design definition (unknown setting value, unknown action family)."""


@dataclass(frozen=True)
class Design:
    """One design variant.

    Settings (strings so they show in traces; each maps to a method below):
      page_owner:  "shared-count" (6.2 page->share) | "single-owner" (before 5.19)
      reflink:     "allowed" | "refused" (XFS: "DAX and reflink cannot be used together")
      seal:        "none" | "reflink-allowed" (sealed files may be reflink sources and CoW)
                   | "no-reflink" (sealed files refuse reflink and CoW)
      cow:         "srcmap" (iomap srcmap, dax_iomap_copy_around) | "single-iomap"
      hole_size:   "iomap" (true hole length) | "unknown" (get_block leaves b_size)
      flush_durable: "map-sync" (only MAP_SYNC or sealed mappings) | "any" (daxfile:
                   every userspace flush is a durability point, metadata not synced)
      map_sync:    MAP_SYNC offered at all
      usync_mode:  MAP_SYNC puts the whole inode into userspace-sync mode, which stops
                   dirty tracking for every mapping (the mixed mode Chinner warns about)
      shared_check: "in-core+journal" (a block still referenced by another inode's
                   journaled map counts as shared, so it is CoW'd, not overwritten in
                   place) | "in-core" (the in-core refcount btree alone decides)
      partial_writes: write(2) of one segment is explored (unaligned writes)
    Scope: ``families`` explored, default ``bounds``.
    ``symmetric``: index dimensions whose members the design treats alike (Murphi
    scalarsets, TLC symmetry sets), used by ``check --symmetry``: files, processes and data
    tokens.  Physical blocks are not: the allocator hands out the lowest free block
    (xfs_bmap_btalloc).  The explorer verifies the claim on every transition and property
    it evaluates and explores without the reduction when it does not hold.
    ``expect_violated``: exactly the shipped properties this design violates at its default
    bounds (empty = every property holds); ``check --expect`` and ``daxcheck gate`` fail when
    the computed set differs in either direction.
    """

    name: str
    seed: str
    summary: str
    families: tuple = ALL_FAMILIES
    bounds: Bounds = field(default_factory=Bounds)
    expect_violated: frozenset = frozenset()
    page_owner: str = "shared-count"
    reflink: str = "allowed"
    seal: str = "none"
    cow: str = "srcmap"
    hole_size: str = "iomap"
    flush_durable_mode: str = "map-sync"
    map_sync: bool = True
    usync_mode: bool = False
    shared_check: str = "in-core+journal"
    partial_writes: bool = True
    symmetric: tuple = ("file", "proc", "tok")

    _CHOICES = {"page_owner": ("shared-count", "single-owner"),
                "reflink": ("allowed", "refused"),
                "seal": ("none", "reflink-allowed", "no-reflink"),
                "cow": ("srcmap", "single-iomap"),
                "hole_size": ("iomap", "unknown"),
                "flush_durable_mode": ("map-sync", "any"),
                "shared_check": ("in-core+journal", "in-core")}

    def __post_init__(self):
        for key, allowed in self._CHOICES.items():
            if getattr(self, key) not in allowed:
                raise DesignError(f"design {self.name}: {key}={getattr(self, key)!r} is not one "
                                  f"of {', '.join(allowed)}")
        bad = [f for f in self.families if f not in ALL_FAMILIES]
        if bad:
            raise DesignError(f"design {self.name}: unknown action famil{'y' if len(bad) == 1 else 'ies'} "
                              f"{', '.join(bad)}")
        self.bounds.validate()

    def variant(self, **changes) -> "Design":
        """A copy with some settings changed (e.g. a user's variant of a shipped design)."""
        return dataclasses.replace(self, **changes)

    def settings(self) -> dict:
        """The kernel-decision settings as a dict (for reports and ITF #meta)."""
        return {key: getattr(self, key) for key in
                ("page_owner", "reflink", "seal", "cow", "hole_size", "flush_durable_mode",
                 "map_sync", "usync_mode", "shared_check", "partial_writes")}

    # ---- decision hooks (vocabulary-only; may get symbolic state) -------------------
    def associate(self, L, d, b, f, x, shared):
        """dax_associate_entry: record that file ``f`` index ``x`` maps pmem page ``b``."""
        if self.page_owner == "single-owner":
            k.associate_single_owner(L, d, b, f, x, shared)
        else:
            k.associate_shared_count(L, d, b, f, x, shared)

    def disassociate(self, L, d, b, f, x):
        """dax_disassociate_entry: the entry of ``f``/``x`` for page ``b`` goes away."""
        if self.page_owner == "single-owner":
            k.disassociate_single_owner(L, d, b, f, x)
        else:
            k.disassociate_shared_count(L, d, b, f, x)

    def reflink_allowed(self, L, s, src, dst):
        """Whether FICLONE ``src`` → ``dst`` proceeds (else EINVAL/EPERM: disabled)."""
        if self.reflink == "refused":
            return False
        if self.seal == "no-reflink":
            return And(s[L.sealed[src]] == 0, s[L.sealed[dst]] == 0)
        return s[L.sealed[dst]] == 0

    def cow_allowed(self, L, s, f):
        """Whether a write may break sharing of ``f``'s extent by CoW (moving it)."""
        if self.seal == "no-reflink":
            return s[L.sealed[f]] == 0
        return True

    def cow_fill(self, L, d, src_kind, src, dst, segs, whole):
        """Fill the CoW destination ``dst`` outside the written range: ``segs`` are the
        segments the write does not cover (all of them for a fault, ``whole``).

        srcmap (dax_iomap_copy_around, 5.19+, with the 2022 zero_edge fix): copy from the
        source block, or zero when the source map is unwritten.  single-iomap (IOMAP_F_COW,
        2019 btrfs series): the head/tail of an unaligned write are left as they are and a
        whole-page copy is raw, whatever the source type was (the information was dropped).
        """
        if self.cow == "single-iomap":
            if whole:
                k.copy_block(L, d, src, dst, segs)
            return
        unwritten = src_kind == UNWRITTEN
        from .vocab import when
        when(d, unwritten, lambda d: k.zero_segs(L, d, dst, segs))
        when(d, Not(unwritten), lambda d: k.copy_block(L, d, src, dst, segs))

    def hole_length(self, L, s, f, x, want):
        """The length (blocks) ->iomap_begin reports for the hole at ``f``/``x`` when DAX
        asks for ``want`` blocks.  iomap: the real extent length (contiguous holes);
        unknown: the requested length (ext2 get_block left bh->b_size untouched, seed 000)."""
        if self.hole_size == "unknown":
            return want
        n, run = 0, True
        for y in range(x, min(x + want, len(L.blks))):
            run = And(run, s[L.ext_kind[f][y]] == HOLE)
            n = n + If(run, 1, 0)
        return n

    def flush_durable(self, L, s, n, f, x):
        """Whether a userspace flush through process ``n``'s mapping of ``f`` index ``x``
        is promised durable: a writable PTE of a MAP_SYNC mapping (its write fault synced
        the metadata) or a sealed (daxfile) inode; "any": every mapping (seed 004)."""
        if self.flush_durable_mode == "any":
            return True
        return Or(And(s[L.mmap_mode[n][f]] == MM_SYNC, s[L.pte_kind[n][f][x]] == PTE_RW),
                  s[L.sealed[f]] == 1)

    def tracks_dirty(self, L, s, f):
        """Whether a write fault tags the DAX entry dirty so fsync will flush it.  With
        ``usync_mode`` an inode in userspace-sync mode tracks nothing (seed 004)."""
        if self.usync_mode:
            return s[L.usync[f]] == 0
        return True


def register_design(d: Design) -> Design:
    """Add a design to the registry (a user's file calls this); returns it.
    Raises DesignError if the name is already taken."""
    if d.name in DESIGNS:
        raise DesignError(f"design {d.name} is already registered")
    DESIGNS[d.name] = d
    return d


_REFLINK = dict(families=("mmap", "fault", "store", "flush", "write", "read", "reflink", "punch",
                          "fdatasync", "crash"),
                bounds=Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1, depth=7),
                partial_writes=False)
_IMMUTABLE = dict(families=("mmap", "fault", "store", "flush", "write", "read", "seal", "reflink",
                            "punch", "fdatasync", "crash"),
                  bounds=Bounds(files=2, blocks=1, phys=3, tokens=1, procs=1, depth=6),
                  partial_writes=False)
_SYNC = dict(families=("mmap", "fault", "store", "flush", "write", "read", "fallocate", "punch",
                       "fdatasync", "crash"),
             bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=1, depth=7),
             partial_writes=False)
_MIXED = dict(families=("mmap", "fault", "store", "flush", "write", "read", "fallocate",
                        "fdatasync", "crash"),
              bounds=Bounds(files=1, blocks=1, phys=2, tokens=1, procs=2, depth=6),
              partial_writes=False)
_COW = dict(families=("mmap", "fault", "store", "flush", "write", "read", "reflink", "punch",
                      "fdatasync", "crash"),
            bounds=Bounds(files=2, blocks=1, phys=3, tokens=2, procs=1, depth=5))
_HOLE = dict(families=("mmap", "fault", "pmd_fault", "store", "flush", "write", "read",
                       "fallocate", "punch", "fdatasync"),
             bounds=Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1, depth=5),
             partial_writes=False)

for _d in (
    Design("reflink-single-owner", "002",
           "reflink on fsdax with one page->mapping per pmem page (the dax_associate_entry TODO)",
           page_owner="single-owner", expect_violated=frozenset({"no_page_two_mappings"}),
           **_REFLINK),
    Design("reflink-shared-count", "002",
           "reflink on fsdax with PAGE_MAPPING_DAX_SHARED and page->share (5.19/6.2)",
           **_REFLINK),
    Design("reflink-refused", "002",
           "DAX and reflink exclusive (XFS until 5.18)", reflink="refused", **_REFLINK),
    Design("immutable-extents", "001",
           "sealed block map, but sealed files can be reflinked and CoW'd",
           seal="reflink-allowed",
           expect_violated=frozenset({"immutable_extents_never_move", "durable_after_sync"}),
           **_IMMUTABLE),
    Design("immutable-no-reflink", "001",
           "sealed inodes refuse reflink and CoW (Chinner: mutually exclusive)",
           seal="no-reflink", **_IMMUTABLE),
    Design("userspace-flush", "004",
           "userspace flush is a durability point on any mapping; metadata never synced",
           flush_durable_mode="any", map_sync=False,
           expect_violated=frozenset({"durable_after_sync"}), **_SYNC),
    Design("map-sync", "004",
           "MAP_SYNC: the fault syncs metadata before the PTE becomes writable (4.15)",
           **_SYNC),
    Design("mixed-dirty-tracking", "004",
           "a MAP_SYNC writer puts the inode in userspace-sync mode; fsync of another "
           "process's plain mapping flushes nothing",
           usync_mode=True, expect_violated=frozenset({"durable_after_sync"}), **_MIXED),
    Design("cow-single-iomap", "003",
           "CoW through one iomap with IOMAP_F_COW: unaligned head/tail left uncopied",
           cow="single-iomap",
           expect_violated=frozenset({"no_stale_data", "no_stale_data_after_crash",
                                      "durable_after_sync"}), **_COW),
    Design("cow-srcmap", "003",
           "CoW with a source map: head/tail copied, zeroed for an unwritten source (5.19)",
           **_COW),
    Design("cow-in-core-refcount", "003",
           "in-place overwrite decided by the in-core refcount alone: a block whose sharing an "
           "uncommitted CoW remap broke is overwritten in place, and a crash hands it back to "
           "the other file (model finding)",
           shared_check="in-core",
           expect_violated=frozenset({"durable_after_sync", "no_stale_data_after_crash"}), **_COW),
    Design("hole-size-unknown", "000",
           "the PMD fault trusts a hole length the filesystem never reported (buffer_head)",
           hole_size="unknown", expect_violated=frozenset({"mapping_matches_extents"}), **_HOLE),
    Design("iomap-hole-size", "000",
           "->iomap_begin reports the true hole length; PMD zero page only over real holes",
           **_HOLE),
):
    register_design(_d)
