"""Property conjuncts tested alone (issue 28): every ``And`` (and ``Or``) operand of every
shipped property has a concrete state on which that operand, and nothing else, decides the
property, so a weakened property (the operand dropped) is caught here even where no
shipped design's exploration ever violates that conjunct alone.

A *site* is one operand of one ``And``/``Or`` call in ``properties/fsdax.py``, found by
reading the source (:func:`daxcheck.checker.coverage.sites.scan_file`); a site counts under
every shipped property whose function contains it (nested defs such as ``owns`` included)
or calls, directly or through another helper, the module-level helper that contains it
(``legit``, ``file_pte``).  A :class:`Case` names one (property, site) in kernel terms and
builds a concrete state (fields set on ``Layout.init_state()``, or a state reached by a
tiny exploration) and the property item to evaluate.  :func:`check_case` asserts, with the
coverage :class:`~daxcheck.checker.coverage.recorder.Recorder` watching:

* the operand decided its call ALONE (an ``And`` operand seen False while every other
  operand was True; an ``Or`` operand True while the others were False);
* the property gives the case's verdict: violated for a conjunct in positive position
  (dropping it would let the violation through), holding for an operand of an
  implication's premise, under ``Not``, or of an ``Or`` in positive position (dropping it
  makes the property fire on a state it must accept: the operand keeps a false alarm
  out) — the only way such an operand can matter;
* at the property's top-level ``And`` (when its function returns one) exactly one operand
  is False (violated cases) or none is (holding cases);
* the property with that one operand dropped (an ``And`` operand taken as True, an ``Or``
  operand as False), evaluated on the same state, gives the other verdict.

Operands that never change the verdict are listed in :data:`REDUNDANT` with the reason;
one test checks the claim on every combination of the fields the item reads, another on
random states of all those fields (Hypothesis).
"""

from __future__ import annotations

import ast
import itertools
import math
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daxcheck.checker.coverage.recorder import ALONE, FALSE, Recorder
from daxcheck.checker.coverage.sites import Site, scan_file
from daxcheck.properties import PROPERTIES
from daxcheck.properties import fsdax as props_fsdax
from daxcheck.spec import vocab
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import (
    HOLE,
    MM_NONE,
    MM_PRIVATE,
    MM_SHARED,
    ORDER_PMD,
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
    Bounds,
    Layout,
)
from daxcheck.spec.vocab import Count, Implies

PROPS_FILE = str(Path(props_fsdax.__file__).resolve())
SHOWN = "properties/fsdax.py"
SITES = scan_file(PROPS_FILE, SHOWN)
SHIPPED = {
    n: p
    for n, p in PROPERTIES.items()
    if p.origin == "shipped" and (p.item_fn or p.fn).__module__ == props_fsdax.__name__
}

# Layouts small enough to read: two single-block files (a, b) on two pmem pages (p0, p1);
# one two-block file (PMD-sized range 0..1, page->index 0/1).
TWO_FILES = Layout(Bounds(files=2, blocks=1, phys=2, tokens=1, procs=1), extra=())
TWO_BLOCKS = Layout(Bounds(files=1, blocks=2, phys=2, tokens=1, procs=1), extra=())
A, B = 0, 1  # files
P0 = 0  # the process


def state(L: Layout, changes: dict[int, int]) -> bytes:
    """``L.init_state()`` (after mkfs: holes, empty xarray, nothing mapped, media STALE)
    with the fields at the given offsets set to the given values."""
    d = bytearray(L.init_state())
    for off, v in changes.items():
        d[off] = v
    return bytes(d)


# --------------------------------------------------------------------------- source
def _module_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(Path(PROPS_FILE).read_text(encoding="utf-8"))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


FUNCTIONS = _module_functions()


def _calls(fn: ast.FunctionDef) -> set[str]:
    return {
        n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def functions_of(prop: str) -> set[str]:
    """The module-level functions of properties/fsdax.py whose sites count under ``prop``:
    its own, and the helpers it calls, transitively (not other properties)."""
    own = (SHIPPED[prop].item_fn or SHIPPED[prop].fn).__name__
    out, todo = set(), [own]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        todo.extend(
            c
            for c in _calls(FUNCTIONS[name]) & FUNCTIONS.keys()
            if c == own or not any((p.item_fn or p.fn).__name__ == c for p in SHIPPED.values())
        )
    return out


def sites_of(prop: str, kinds=("And", "Or")) -> list[Site]:
    """The And/Or operand sites counting under ``prop`` (see :func:`functions_of`)."""
    fns = functions_of(prop)
    return [s for s in SITES if s.kind in kinds and s.function.split(".")[0] in fns]


def top_level_and(prop: str) -> tuple[int, int] | None:
    """(line, col) of the ``And`` call the property's function returns, if it returns one."""
    fn = FUNCTIONS[(SHIPPED[prop].item_fn or SHIPPED[prop].fn).__name__]
    for node in fn.body:
        if (
            isinstance(node, ast.Return)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
            and node.value.func.id == "And"
        ):
            return node.value.lineno, node.value.col_offset
    return None


# ---------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """One conjunct tested alone: ``name`` (the conjunct in kernel terms), ``prop`` (a
    shipped property), ``function`` and ``text`` (the site's enclosing function and operand
    source, :class:`Site` fields: how cases find their site when lines move), ``build``
    (() -> (layout, state, item): the item of an ``each=`` property, or None),
    ``violated`` (True: the property fails on the state and holds with the operand
    dropped; False: an operand of a premise or under Not, the property holds and fails
    with the operand dropped), ``operand`` (for ``And(*xs)``: which operand), ``kind``
    (``And`` or ``Or``)."""

    name: str
    prop: str
    function: str
    text: str
    build: Callable
    violated: bool = True
    operand: int | None = None
    kind: str = "And"

    @property
    def key(self) -> tuple:
        return (self.prop, self.kind, self.function, self.text, self.operand)


def site_of(case: Case) -> Site:
    """The single And/Or operand site ``case`` names; AssertionError if none or several
    match."""
    found = [
        s
        for s in sites_of(case.prop, (case.kind,))
        if (s.function, s.text) == (case.function, case.text)
    ]
    assert len(found) == 1, (
        f"case {case.name!r}: {len(found)} {case.kind} operand sites of "
        f"{case.prop} match {case.function}: {case.text!r}"
    )
    return found[0]


def _with(L, **named):
    """Build-helper: a function returning (L, state(L, changes), item)."""
    item = named.pop("item")
    changes = named.pop("changes")
    return lambda: (L, state(L, changes), item)


T, F2 = TWO_FILES, TWO_BLOCKS
# -- no_page_two_mappings: page p0, owners = DAX pfn entries naming p0.
_pg = T.page_mapping[0]
_share = T.page_share[0]
_pfn_a = {T.xa_kind[A][0]: XA_PFN, T.xa_pfn[A][0]: 0}
_pfn_b = {T.xa_kind[B][0]: XA_PFN, T.xa_pfn[B][0]: 0}
# -- immutable_extents_never_move: a sealed, written a[0] at p0, journaled alike.
_sealed = {T.sealed[A]: 1, T.ext_kind[A][0]: WRITTEN, T.jext_kind[A][0]: WRITTEN}
# -- read / load through a[0]: i_size 1 block, written extent at p0 (media STALE).
_readable = {T.size[A]: 1, T.ext_kind[A][0]: WRITTEN}
_anon_cow = {
    T.mmap_mode[P0][A]: MM_PRIVATE,
    T.pte_kind[P0][A][0]: PTE_ANON,
    T.anon[P0][A][0][0]: 1,
}
"""A MAP_PRIVATE anonymous CoW page of file a block 0 holding token 1 (the process's own)."""
_pte_ro = {T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_RO}
_persisted = {T.jsize[A]: 1, T.jext_kind[A][0]: WRITTEN}
_wrote_t1 = {T.ghost_written[A][0][0][0]: 1}
_media_t1 = {T.media[0][0]: 1}
# -- mapping_matches_extents over a[0].
_entry_ok = {T.xa_kind[A][0]: XA_PFN, T.ext_kind[A][0]: WRITTEN}
# -- pmd_excludes_pte over the two-block file a.
_pmd_zero = {
    F2.pmd_zero[A]: 1,
    **{F2.xa_order[A][x]: ORDER_PMD for x in F2.blks},
    **{F2.xa_kind[A][x]: XA_ZERO for x in F2.blks},
}
_pmd_pfn = {
    F2.pmd_pfn[A]: 1,
    **{F2.xa_order[A][x]: ORDER_PMD for x in F2.blks},
    **{F2.xa_kind[A][x]: XA_PFN for x in F2.blks},
    F2.xa_pfn[A][1]: 1,
    F2.mmap_mode[P0][A]: MM_SHARED,
    F2.pmd_map[P0][A]: 1,
}
# -- pinned_pages_stay_allocated: p0 pinned through a[0].
_pinned = {T.pinned[0]: 1, T.pin_file[0]: A, T.pin_idx[0]: 0}


def _deadlock_state(waiter: int):
    """A state of ``fault-write-entry-lock`` (two kernel threads, DAX entry lock) where
    thread ``waiter`` waits for a lock the other thread holds and not the other way round:
    the first such state in BFS order of a tiny exploration (depth 5, ~60 states)."""

    def build():
        m = DaxModel(DESIGNS["fault-write-entry-lock"])
        L, W = m.L, m.L.waits_for
        other = 1 - waiter
        s0 = m.init_states()[0]
        seen, q = {s0}, deque([s0])
        while q:
            s = q.popleft()
            if W(L, s, waiter, other) is True and W(L, s, other, waiter) is False:
                cycle = next(c for c in props_fsdax.waiter_cycles(L) if len(c.threads) == 2)
                return L, s, cycle
            for _, ns in m.successors(s):
                if ns not in seen:
                    seen.add(ns)
                    q.append(ns)
        raise AssertionError(f"no state where T{waiter} alone waits in fault-write-entry-lock")

    return build


_STARRED = "And(*[W(L, s, c.threads[i], c.threads[(i + 1) % n]) for i i…"
"""The site text of no_deadlock's ``And(*edges)`` (one operand per edge of the cycle)."""

CASES = [
    # ---- no_page_two_mappings: page->mapping / page->index / page->share vs DAX entries
    Case(
        "owner: a pfn entry (a zero-page entry naming the pfn is no owner)",
        "no_page_two_mappings",
        "no_page_two_mappings.owns",
        "s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN",
        _with(
            T,
            item=0,
            changes={
                _pg: PG_SHARED,
                _share: 2,
                **_pfn_a,
                T.xa_kind[B][0]: XA_ZERO,
                T.xa_pfn[B][0]: 0,
            },
        ),
    ),
    Case(
        "owner: the entry's pfn is this page",
        "no_page_two_mappings",
        "no_page_two_mappings.owns",
        "s[L.xa_pfn[fx[0]][fx[1]]] == b",
        _with(
            T,
            item=0,
            changes={
                _pg: PG_SHARED,
                _share: 2,
                **_pfn_a,
                T.xa_kind[B][0]: XA_PFN,
                T.xa_pfn[B][0]: 1,
            },
        ),
    ),
    Case(
        "single owner: page->mapping not NULL (an unowned page needs no owner)",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "m != PG_NULL",
        _with(T, item=0, changes={}),
        violated=False,
    ),
    Case(
        "single owner: page->mapping not PAGE_MAPPING_DAX_SHARED",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "m != PG_SHARED",
        _with(T, item=0, changes={_pg: PG_SHARED, _share: 2, **_pfn_a, **_pfn_b}),
        violated=False,
    ),
    Case(
        "page->mapping NULL: no DAX entry names the page",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "Implies(m == PG_NULL, owners == 0)",
        _with(T, item=0, changes={**_pfn_a}),
    ),
    Case(
        "page->share == owners",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "Implies(m == PG_SHARED, s[L.page_share[b]] == owners)",
        _with(T, item=0, changes={_pg: PG_SHARED, _share: 1, **_pfn_a, **_pfn_b}),
    ),
    Case(
        "page->mapping an address_space: its one owner is (page->mapping, page->index)",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "Implies(single, And(owners == 1, ForAll(L.file_blks, lambda…",
        _with(T, item=0, changes={_pg: A + 1}),
    ),
    Case(
        "page->mapping an address_space: exactly one owner",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "owners == 1",
        _with(T, item=0, changes={_pg: A + 1}),
    ),
    Case(
        "page->mapping an address_space: the owner is page->mapping/page->index",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "ForAll(L.file_blks, lambda fx: Implies(owns(fx), And(m == f…",
        _with(T, item=0, changes={_pg: B + 1, **_pfn_a}),
    ),
    Case(
        "page->mapping is the owner's address_space",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "m == fx[0] + 1",
        _with(T, item=0, changes={_pg: B + 1, **_pfn_a}),
    ),
    Case(
        "page->index is the owner's file index",
        "no_page_two_mappings",
        "no_page_two_mappings",
        "s[L.page_index[b]] == fx[1]",
        _with(
            F2,
            item=0,
            changes={
                F2.page_mapping[0]: A + 1,
                F2.page_index[0]: 0,
                F2.xa_kind[A][1]: XA_PFN,
                F2.xa_pfn[A][1]: 0,
            },
        ),
    ),
    # ---- immutable_extents_never_move: a sealed file's block map, in memory and journaled
    Case(
        "sealed extent stays written (in memory)",
        "immutable_extents_never_move",
        "immutable_extents_never_move",
        "s[L.ext_kind[f][x]] == WRITTEN",
        _with(T, item=(A, 0), changes={**_sealed, T.ext_kind[A][0]: UNWRITTEN}),
    ),
    Case(
        "sealed extent stays at its physical block (in memory)",
        "immutable_extents_never_move",
        "immutable_extents_never_move",
        "s[L.ext_pblk[f][x]] == s[L.ghost_seal_pblk[f][x]]",
        _with(T, item=(A, 0), changes={**_sealed, T.ext_pblk[A][0]: 1}),
    ),
    Case(
        "sealed extent stays written (journaled)",
        "immutable_extents_never_move",
        "immutable_extents_never_move",
        "s[L.jext_kind[f][x]] == WRITTEN",
        _with(T, item=(A, 0), changes={**_sealed, T.jext_kind[A][0]: HOLE}),
    ),
    Case(
        "sealed extent stays at its physical block (journaled)",
        "immutable_extents_never_move",
        "immutable_extents_never_move",
        "s[L.jext_pblk[f][x]] == s[L.ghost_seal_pblk[f][x]]",
        _with(T, item=(A, 0), changes={**_sealed, T.jext_pblk[A][0]: 1}),
    ),
    # ---- legit (data read is zeros or a token written at that offset), under each caller
    Case(
        "read(2) data: the token read is the one written (not pre-mkfs media)",
        "no_stale_data",
        "legit",
        "v == t",
        _with(T, item=(A, 0, 0), changes={**_readable, **_wrote_t1}),
    ),
    Case(
        "read(2) data: the token read was written at this offset",
        "no_stale_data",
        "legit",
        "s[L.ghost_written[f][x][g][t - 1]] == 1",
        _with(T, item=(A, 0, 0), changes={**_readable, **_media_t1}),
    ),
    Case(
        "after a crash: the token recovered is the one written (not pre-mkfs media)",
        "no_stale_data_after_crash",
        "legit",
        "v == t",
        _with(T, item=(A, 0, 0), changes={**_persisted, **_wrote_t1}),
    ),
    Case(
        "after a crash: the token recovered was written at this offset",
        "no_stale_data_after_crash",
        "legit",
        "s[L.ghost_written[f][x][g][t - 1]] == 1",
        _with(T, item=(A, 0, 0), changes={**_persisted, **_media_t1}),
    ),
    # ---- no_stale_data: read(2) and loads through PTEs
    Case(
        "read(2) within i_size returns written data or zeros",
        "no_stale_data",
        "no_stale_data",
        "read",
        _with(T, item=(A, 0, 0), changes={**_readable}),
    ),
    Case(
        "loads through PTEs return written data or zeros",
        "no_stale_data",
        "no_stale_data",
        "loads",
        _with(T, item=(A, 0, 0), changes={**_pte_ro}),
    ),
    Case(
        "loads: only a present PTE is loaded through (no PTE, no load)",
        "no_stale_data",
        "file_pte",
        "k != PTE_NONE",
        _with(T, item=(A, 0, 0), changes={}),
        violated=False,
    ),
    Case(
        "loads: a MAP_PRIVATE anonymous CoW page holds the process's own data",
        "no_stale_data",
        "file_pte",
        "k != PTE_ANON",
        _with(T, item=(A, 0, 0), changes={**_anon_cow}),
        violated=False,
    ),
    # ---- read_returns_last_write: read(2) and loads return the last write
    Case(
        "read(2) within i_size returns the last write",
        "read_returns_last_write",
        "read_returns_last_write",
        "read",
        _with(T, item=(A, 0, 0), changes={**_readable}),
    ),
    Case(
        "loads through PTEs return the last write",
        "read_returns_last_write",
        "read_returns_last_write",
        "loads",
        _with(T, item=(A, 0, 0), changes={**_pte_ro}),
    ),
    Case(
        "last write: only a present PTE is loaded through (no PTE, no load)",
        "read_returns_last_write",
        "file_pte",
        "k != PTE_NONE",
        _with(T, item=(A, 0, 0), changes={}),
        violated=False,
    ),
    Case(
        "last write: a MAP_PRIVATE anonymous CoW page is the process's own",
        "read_returns_last_write",
        "file_pte",
        "k != PTE_ANON",
        _with(T, item=(A, 0, 0), changes={**_anon_cow}),
        violated=False,
    ),
    # ---- mapping_matches_extents: DAX entries and PTEs agree with the extent map
    Case(
        "pfn entry only over a written extent at its block",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "Implies(xk == XA_PFN, And(ek == WRITTEN, s[L.xa_pfn[f][x]] …",
        _with(T, item=(A, 0), changes={T.xa_kind[A][0]: XA_PFN}),
    ),
    Case(
        "zero-page entry only over a hole or unwritten extent",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "Implies(xk == XA_ZERO, ek != WRITTEN)",
        _with(T, item=(A, 0), changes={T.xa_kind[A][0]: XA_ZERO, T.ext_kind[A][0]: WRITTEN}),
    ),
    Case(
        "pfn entry: the extent is written (not unwritten)",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "ek == WRITTEN",
        _with(T, item=(A, 0), changes={T.xa_kind[A][0]: XA_PFN, T.ext_kind[A][0]: UNWRITTEN}),
    ),
    Case(
        "pfn entry: its pfn is the extent's physical block",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "s[L.xa_pfn[f][x]] == s[L.ext_pblk[f][x]]",
        _with(T, item=(A, 0), changes={**_entry_ok, T.xa_pfn[A][0]: 1}),
    ),
    Case(
        "pfn PTE maps the pfn entry's pfn",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "Implies(Or(s[L.pte_kind[n][f][x]] == PTE_RO, s[L.pte_kind[n…",
        _with(T, item=(A, 0), changes={**_entry_ok, **_pte_ro, T.pte_pfn[P0][A][0]: 1}),
    ),
    Case(
        "zero-page PTE only over a hole's zero-page entry",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "Implies(s[L.pte_kind[n][f][x]] == PTE_ZERO, And(ek != WRITT…",
        _with(
            T, item=(A, 0), changes={T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_ZERO}
        ),
    ),
    Case(
        "no PTE in a process that has no mmap of the file",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "Implies(s[L.pte_kind[n][f][x]] != PTE_NONE, s[L.mmap_mode[n…",
        _with(
            T,
            item=(A, 0),
            changes={**_entry_ok, T.pte_kind[P0][A][0]: PTE_RO, T.mmap_mode[P0][A]: MM_NONE},
        ),
    ),
    Case(
        "pfn PTE: there is a pfn entry",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "xk == XA_PFN",
        _with(
            T, item=(A, 0), changes={T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_RW}
        ),
    ),
    Case(
        "pfn PTE: its pfn is the entry's",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]]",
        _with(T, item=(A, 0), changes={**_entry_ok, **_pte_ro, T.pte_pfn[P0][A][0]: 1}),
    ),
    Case(
        "zero-page PTE: the entry is the zero-page entry",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "xk == XA_ZERO",
        _with(
            T, item=(A, 0), changes={T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_ZERO}
        ),
    ),
    Case(
        "DAX entries match the extent map",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "entry",
        _with(T, item=(A, 0), changes={T.xa_kind[A][0]: XA_PFN}),
    ),
    Case(
        "PTEs match the DAX entries",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "ptes",
        _with(
            T, item=(A, 0), changes={T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_RW}
        ),
    ),
    # ---- refcounts_consistent: refcount == extents naming the block
    Case(
        "refcount counts allocated extents (a hole's stale pblk is no reference)",
        "refcounts_consistent",
        "refcounts_consistent",
        "s[L.ext_kind[fx[0]][fx[1]]] != HOLE",
        _with(T, item=0, changes={T.refcount[0]: 2, T.ext_kind[A][0]: WRITTEN}),
    ),
    Case(
        "refcount counts the extents naming this block",
        "refcounts_consistent",
        "refcounts_consistent",
        "s[L.ext_pblk[fx[0]][fx[1]]] == b",
        _with(
            T,
            item=0,
            changes={
                T.refcount[0]: 2,
                T.ext_kind[A][0]: WRITTEN,
                T.ext_kind[B][0]: WRITTEN,
                T.ext_pblk[B][0]: 1,
            },
        ),
    ),
    # ---- dedupe_shares_equal_data: sharing offsets hold equal data (premise conjuncts)
    Case(
        "sharing: only a written extent shares the block (an unwritten one reads zeros)",
        "dedupe_shares_equal_data",
        "dedupe_shares_equal_data",
        "s[L.ext_kind[gy[0]][gy[1]]] == WRITTEN",
        _with(
            T,
            item=(A, 0),
            changes={
                T.ext_kind[A][0]: WRITTEN,
                T.ghost_last[A][0][0]: 1,
                T.ext_kind[B][0]: UNWRITTEN,
            },
        ),
        violated=False,
    ),
    Case(
        "sharing: only an extent at the same physical block shares it",
        "dedupe_shares_equal_data",
        "dedupe_shares_equal_data",
        "s[L.ext_pblk[gy[0]][gy[1]]] == p",
        _with(
            T,
            item=(A, 0),
            changes={
                T.ext_kind[A][0]: WRITTEN,
                T.ghost_last[A][0][0]: 1,
                T.ext_kind[B][0]: WRITTEN,
                T.ext_pblk[B][0]: 1,
            },
        ),
        violated=False,
    ),
    # ---- pinned_pages_stay_allocated: the GUP-pinned page stays the pinned offset's block
    Case(
        "pinned page: the extent is the pinned file's",
        "pinned_pages_stay_allocated",
        "pinned_pages_stay_allocated",
        "s[L.pin_file[b]] == fx[0]",
        _with(T, item=0, changes={**_pinned, T.ext_kind[B][0]: WRITTEN}),
    ),
    Case(
        "pinned page: the extent is at the pinned index",
        "pinned_pages_stay_allocated",
        "pinned_pages_stay_allocated",
        "s[L.pin_idx[b]] == fx[1]",
        _with(
            F2,
            item=0,
            changes={
                F2.pinned[0]: 1,
                F2.pin_file[0]: A,
                F2.pin_idx[0]: 0,
                F2.ext_kind[A][1]: WRITTEN,
            },
        ),
    ),
    Case(
        "pinned page: the pinned offset's extent is still written",
        "pinned_pages_stay_allocated",
        "pinned_pages_stay_allocated",
        "s[L.ext_kind[fx[0]][fx[1]]] == WRITTEN",
        _with(T, item=0, changes={**_pinned, T.ext_kind[A][0]: UNWRITTEN}),
    ),
    Case(
        "pinned page: the pinned offset's extent still maps the page",
        "pinned_pages_stay_allocated",
        "pinned_pages_stay_allocated",
        "s[L.ext_pblk[fx[0]][fx[1]]] == b",
        _with(T, item=0, changes={**_pinned, T.ext_kind[A][0]: WRITTEN, T.ext_pblk[A][0]: 1}),
    ),
    # ---- pmd_excludes_pte: a PMD entry / PMD mapping excludes PTE-sized ones
    Case(
        "PMD entry covers its range: every index has PMD order",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "Implies(pmd, And(s[L.xa_order[f][x]] == ORDER_PMD, s[L.xa_k…",
        _with(F2, item=A, changes={**_pmd_zero, F2.xa_order[A][1]: 0}),
    ),
    Case(
        "PMD-order entries only under a PMD entry",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "Implies(s[L.xa_order[f][x]] == ORDER_PMD, pmd)",
        _with(F2, item=A, changes={F2.xa_order[A][0]: ORDER_PMD, F2.xa_kind[A][0]: XA_ZERO}),
    ),
    Case(
        "PMD entry: the index has PMD order",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.xa_order[f][x]] == ORDER_PMD",
        _with(F2, item=A, changes={**_pmd_zero, F2.xa_order[A][0]: 0}),
    ),
    Case(
        "PMD entry: the index is not empty",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.xa_kind[f][x]] != XA_EMPTY",
        _with(F2, item=A, changes={**_pmd_zero, F2.xa_kind[A][1]: XA_EMPTY}),
    ),
    Case(
        "PMD mapping only under a PMD entry",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "pmd",
        _with(
            F2,
            item=A,
            changes={
                F2.mmap_mode[P0][A]: MM_SHARED,
                F2.pmd_map[P0][A]: 1,
                **{F2.pte_kind[P0][A][x]: PTE_RO for x in F2.blks},
            },
        ),
    ),
    Case(
        "PMD mapping: its PTEs mirror the PMD",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "ForAll(L.blks, lambda x: If(s[L.pmd_zero[f]] == 1, s[L.pte_…",
        _with(
            F2, item=A, changes={**_pmd_zero, F2.mmap_mode[P0][A]: MM_SHARED, F2.pmd_map[P0][A]: 1}
        ),
    ),
    Case(
        "PMD pfn mapping: its PTEs are pfn PTEs (read-only or, after a PMD write fault, writable)",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "Or(s[L.pte_kind[n][f][x]] == PTE_RO, s[L.pte_kind[n][f][x]]…",
        _with(
            F2,
            item=A,
            changes={**_pmd_pfn, F2.pte_kind[P0][A][0]: PTE_RO, F2.pte_pfn[P0][A][1]: 1},
        ),
    ),
    Case(
        "PMD pfn mapping: a read-only pfn PTE is one of its PTE kinds",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.pte_kind[n][f][x]] == PTE_RO",
        _with(
            F2,
            item=A,
            changes={
                **_pmd_pfn,
                F2.pte_kind[P0][A][0]: PTE_RO,
                F2.pte_kind[P0][A][1]: PTE_RO,
                F2.pte_pfn[P0][A][1]: 1,
            },
        ),
        violated=False,
        kind="Or",
    ),
    Case(
        "PMD pfn mapping: a writable pfn PTE is one of its PTE kinds (PMD write fault)",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.pte_kind[n][f][x]] == PTE_RW",
        _with(
            F2,
            item=A,
            changes={
                **_pmd_pfn,
                F2.pte_kind[P0][A][0]: PTE_RW,
                F2.pte_kind[P0][A][1]: PTE_RW,
                F2.pte_pfn[P0][A][1]: 1,
            },
        ),
        violated=False,
        kind="Or",
    ),
    Case(
        "PMD pfn mapping: its PTEs map the PMD's pfns",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.pte_pfn[n][f][x]] == s[L.xa_pfn[f][x]]",
        _with(
            F2,
            item=A,
            changes={**_pmd_pfn, F2.pte_kind[P0][A][0]: PTE_RO, F2.pte_kind[P0][A][1]: PTE_RO},
        ),
    ),
    Case(
        "PMD-order entries (xarray side)",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "xa",
        _with(F2, item=A, changes={F2.xa_order[A][0]: ORDER_PMD, F2.xa_kind[A][0]: XA_ZERO}),
    ),
    Case(
        "PMD mappings exclude PTE mappings (page-table side)",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "ptes",
        _with(
            F2, item=A, changes={**_pmd_zero, F2.mmap_mode[P0][A]: MM_SHARED, F2.pmd_map[P0][A]: 1}
        ),
    ),
    # ---- dax_flag_changes_only_when_unmapped: no DAX state on an inode without S_DAX
    Case(
        "S_DAX off: no DAX xarray entry",
        "dax_flag_changes_only_when_unmapped",
        "dax_flag_changes_only_when_unmapped",
        "ForAll(L.blks, lambda x: s[L.xa_kind[f][x]] == XA_EMPTY)",
        _with(T, item=A, changes={T.s_dax[A]: 0, T.xa_kind[A][0]: XA_ZERO}),
    ),
    Case(
        "S_DAX off: no PTE reaching pmem or the zero page",
        "dax_flag_changes_only_when_unmapped",
        "dax_flag_changes_only_when_unmapped",
        "ForAll(L.procs, lambda n: ForAll(L.blks, lambda x: Or(s[L.p…",
        _with(
            T,
            item=A,
            changes={T.s_dax[A]: 0, T.mmap_mode[P0][A]: MM_SHARED, T.pte_kind[P0][A][0]: PTE_RO},
        ),
    ),
    # ---- no_deadlock: a waits-for cycle needs every edge (Not(And(*edges)))
    Case(
        "deadlock cycle: T0 waits for a lock T1 holds",
        "no_deadlock",
        "no_deadlock",
        _STARRED,
        _deadlock_state(waiter=1),
        violated=False,
        operand=0,
    ),
    Case(
        "deadlock cycle: T1 waits for a lock T0 holds",
        "no_deadlock",
        "no_deadlock",
        _STARRED,
        _deadlock_state(waiter=0),
        violated=False,
        operand=1,
    ),
    # ---- Or operands: dropping one means taking it as False
    Case(
        "read(2) data: zeros are legitimate (a hole or unwritten extent reads zeros)",
        "no_stale_data",
        "legit",
        "v == 0",
        _with(T, item=(A, 0, 0), changes={T.size[A]: 1}),
        violated=False,
        kind="Or",
    ),
    Case(
        "read(2) data: a token written at this offset is legitimate",
        "no_stale_data",
        "legit",
        "Exists(L.toks, lambda t: And(v == t, s[L.ghost_written[f][x…",
        _with(T, item=(A, 0, 0), changes={**_readable, **_media_t1, **_wrote_t1}),
        violated=False,
        kind="Or",
    ),
    Case(
        "after a crash: zeros are legitimate (a hole recovers as zeros)",
        "no_stale_data_after_crash",
        "legit",
        "v == 0",
        _with(T, item=(A, 0, 0), changes={}),
        violated=False,
        kind="Or",
    ),
    Case(
        "after a crash: a token written at this offset is legitimate",
        "no_stale_data_after_crash",
        "legit",
        "Exists(L.toks, lambda t: And(v == t, s[L.ghost_written[f][x…",
        _with(T, item=(A, 0, 0), changes={**_persisted, **_media_t1, **_wrote_t1}),
        violated=False,
        kind="Or",
    ),
    Case(
        "read-only pfn PTEs are checked against the entry",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "s[L.pte_kind[n][f][x]] == PTE_RO",
        _with(T, item=(A, 0), changes={**_entry_ok, **_pte_ro, T.pte_pfn[P0][A][0]: 1}),
        kind="Or",
    ),
    Case(
        "writable pfn PTEs are checked against the entry",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "s[L.pte_kind[n][f][x]] == PTE_RW",
        _with(
            T,
            item=(A, 0),
            changes={
                **_entry_ok,
                T.mmap_mode[P0][A]: MM_SHARED,
                T.pte_kind[P0][A][0]: PTE_RW,
                T.pte_pfn[P0][A][0]: 1,
            },
        ),
        kind="Or",
    ),
    Case(
        "a PMD zero-page entry is a PMD entry",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.pmd_zero[f]] == 1",
        _with(
            F2, item=A, changes={F2.pmd_zero[A]: 1, **{F2.xa_kind[A][x]: XA_ZERO for x in F2.blks}}
        ),
        kind="Or",
    ),
    Case(
        "a PMD pfn entry is a PMD entry",
        "pmd_excludes_pte",
        "pmd_excludes_pte",
        "s[L.pmd_pfn[f]] == 1",
        _with(
            F2, item=A, changes={F2.pmd_pfn[A]: 1, **{F2.xa_kind[A][x]: XA_PFN for x in F2.blks}}
        ),
        kind="Or",
    ),
    Case(
        "S_DAX off: an absent PTE is no DAX state",
        "dax_flag_changes_only_when_unmapped",
        "dax_flag_changes_only_when_unmapped",
        "s[L.pte_kind[n][f][x]] == PTE_NONE",
        _with(T, item=A, changes={T.s_dax[A]: 0}),
        violated=False,
        kind="Or",
    ),
    Case(
        "S_DAX off: a MAP_PRIVATE anonymous page is no DAX state",
        "dax_flag_changes_only_when_unmapped",
        "dax_flag_changes_only_when_unmapped",
        "s[L.pte_kind[n][f][x]] == PTE_ANON",
        _with(
            T,
            item=A,
            changes={T.s_dax[A]: 0, T.mmap_mode[P0][A]: MM_PRIVATE, T.pte_kind[P0][A][0]: PTE_ANON},
        ),
        violated=False,
        kind="Or",
    ),
]


@dataclass(frozen=True)
class Redundant:
    """An operand that never changes its property's verdict: ``reason``; ``layout`` and
    ``item``: where the claim is checked; ``fields``: the state fields the item reads
    (name, index...) — enumerated exhaustively and sampled by Hypothesis, every other
    field as after mkfs; ``alone``: whether the operand still decides its And alone in
    some of those states (then coverage's ALONE bit cannot tell it from a needed
    conjunct: only the verdict can)."""

    reason: str
    layout: Layout
    item: object
    fields: tuple
    alone: bool


REDUNDANT = {
    # (property, kind, function, operand text) -> why dropping it changes no verdict.
    ("mapping_matches_extents", "And", "mapping_matches_extents", "ek != WRITTEN"): Redundant(
        "a zero-page PTE needs xk == XA_ZERO too, and a zero-page entry over a written "
        "extent already fails the entry conjunct Implies(xk == XA_ZERO, ek != WRITTEN): "
        "wherever this operand decides its And alone the property is violated twice",
        TWO_FILES,
        (A, 0),
        (
            ("xa_kind", A, 0),
            ("ext_kind", A, 0),
            ("xa_pfn", A, 0),
            ("ext_pblk", A, 0),
            ("pte_kind", P0, A, 0),
            ("pte_pfn", P0, A, 0),
            ("mmap_mode", P0, A),
        ),
        alone=True,
    ),
    ("dedupe_shares_equal_data", "And", "dedupe_shares_equal_data", "gy != (f, x)"): Redundant(
        "the offset itself: for gy == (f, x) the consequent compares each segment's last "
        "write with itself, which always holds",
        TWO_FILES,
        (A, 0),
        (
            ("ext_kind", A, 0),
            ("ext_pblk", A, 0),
            ("ext_kind", B, 0),
            ("ext_pblk", B, 0),
            ("ghost_last", A, 0, 0),
            ("ghost_last", A, 0, 1),
            ("ghost_last", B, 0, 0),
            ("ghost_last", B, 0, 1),
        ),
        alone=True,
    ),
}

CASE_IDS = [c.name for c in CASES]


# ----------------------------------------------------------------- the checking helper
NEUTRAL = {"And": True, "Or": False}
"""What a dropped operand becomes: the value that leaves the rest of the call deciding."""


def _dropping(real, line: int, col: int, k: int, neutral: bool):
    """``real`` (vocab And/Or) with operand ``k`` of the call at ``line``/``col`` of
    properties/fsdax.py replaced by ``neutral``."""

    def twin(*cs):
        f = sys._getframe(1)
        if f.f_code.co_filename in (PROPS_FILE, props_fsdax.__file__):  # a symlinked copy too
            pos = list(f.f_code.co_positions())[f.f_lasti // 2]
            if (pos[0], pos[2]) == (line, col):
                cs = cs[:k] + (neutral,) + cs[k + 1 :]
        return real(*cs)

    return twin


def evaluate(prop, L, s, item):
    """The property (its conjunct for ``item``, or the whole invariant) on ``s``."""
    return prop.item_fn(L, s, item) if prop.each is not None else prop.fn(L, s)


def dropped(prop, L, s, item, site: Site, k: int):
    """The property evaluated with operand ``k`` of ``site``'s And (Or) dropped: taken as
    True (False)."""
    real = getattr(vocab, site.kind)
    assert vars(props_fsdax)[site.kind] is real, f"properties/fsdax.py's {site.kind} is patched"
    setattr(props_fsdax, site.kind, _dropping(real, site.line, site.col, k, NEUTRAL[site.kind]))
    try:
        return evaluate(prop, L, s, item)
    finally:
        setattr(props_fsdax, site.kind, real)


def check_case(case: Case) -> None:
    """Assert that ``case``'s state shows its operand deciding the property alone (see the
    module docstring); AssertionError naming what failed otherwise."""
    site = site_of(case)
    k = site.operand if site.operand >= 0 else case.operand
    assert k is not None and k >= 0, f"case {case.name!r}: And(*xs) needs operand="
    prop = PROPERTIES[case.prop]
    L, s, item = case.build()
    with Recorder({PROPS_FILE: SHOWN}, modules=[props_fsdax]) as rec:
        value = evaluate(prop, L, s, item)
    want = not case.violated
    assert value is want, (
        f"{case.prop} {'holds' if value else 'is violated'} on the state "
        f"of {case.name!r}, expected it {'held' if want else 'violated'}"
    )
    bits = rec.decisions.get((SHOWN, site.line, site.col, k), 0)
    assert bits & ALONE, (
        f"{site.where()} operand {k} `{site.text}` did not decide its "
        f"{site.kind} alone on the state of {case.name!r} (bits {bits})"
    )
    top = top_level_and(case.prop)
    if top is not None:
        ops = [s_ for s_ in SITES if (s_.line, s_.col) == top and s_.kind == "And"]
        false = [s_.text for s_ in ops if rec.decisions.get(s_.key, 0) & FALSE]
        assert len(false) == (1 if case.violated else 0), (
            f"{case.prop}'s top-level And has {len(false)} False operand(s) {false} on the "
            f"state of {case.name!r}"
        )
    assert dropped(prop, L, s, item, site, k) is not want, (
        f"dropping `{site.text}` ({site.where()}) does not change {case.prop} on the state "
        f"of {case.name!r}"
    )


# -------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_conjunct_decides_alone(case):
    check_case(case)


def test_every_and_operand_of_every_shipped_property_has_a_case():
    elsewhere = sorted(
        n for n, p in PROPERTIES.items() if p.origin == "shipped" and n not in SHIPPED
    )
    assert not elsewhere, (
        f"shipped properties outside {SHOWN}, whose operands go unchecked: {elsewhere}"
    )
    assert len(SHIPPED) >= 14, sorted(SHIPPED)
    covered = {c.key for c in CASES}
    missing = []
    for prop in sorted(SHIPPED):
        for site in sites_of(prop):
            if (prop, site.kind, site.function, site.text) in REDUNDANT:
                continue
            ks = [None] if site.operand >= 0 else [0, 1]  # And(*edges): a 2-cycle's edges
            for k in ks:
                if (prop, site.kind, site.function, site.text, k) not in covered:
                    missing.append(
                        f"{site.where()} ({site.function}) {site.kind} operand "
                        f"{site.operand if k is None else k} `{site.text}` of "
                        f"{prop}"
                    )
    assert not missing, (
        "operands without a case (or a REDUNDANT entry) in "
        "tests/test_conjuncts.py:\n" + "\n".join(missing)
    )


def test_cases_and_redundant_entries_name_existing_sites():
    assert len({c.key for c in CASES}) == len(CASES), "two cases for one operand"
    assert len(set(CASE_IDS)) == len(CASE_IDS), "two cases with one name"
    for case in CASES:
        site_of(case)
    for prop, kind, fn, text in REDUNDANT:
        assert [s for s in sites_of(prop, (kind,)) if (s.function, s.text) == (fn, text)], (
            f"REDUNDANT names no {kind} operand site: {prop} {fn} `{text}`"
        )
    # An operand is either tested alone or listed as redundant, not both.
    assert not {c.key[:4] for c in CASES} & REDUNDANT.keys()


def _redundant_site(key) -> Site:
    prop, kind, fn, text = key
    return next(s for s in sites_of(prop, (kind,)) if (s.function, s.text) == (fn, text))


def _offset(L, field):
    o = getattr(L, field[0])
    for i in field[1:]:
        o = o[i]
    return o


@pytest.mark.parametrize("key", sorted(REDUNDANT), ids=[k[3] for k in sorted(REDUNDANT)])
def test_redundant_operand_never_changes_the_verdict(key):
    """Every combination of the fields the item reads: the verdict with the operand
    dropped is the verdict with it (and it decides its And alone somewhere iff the table
    says so)."""
    r, site = REDUNDANT[key], _redundant_site(key)
    prop, L = PROPERTIES[key[0]], r.layout
    offs = [_offset(L, f) for f in r.fields]
    domains = [L.specs[f[0]].values(L.bounds) for f in r.fields]
    combos = list(itertools.product(*domains))
    states = [state(L, dict(zip(offs, values))) for values in combos]
    with Recorder({PROPS_FILE: SHOWN}, modules=[props_fsdax]) as rec:
        verdicts = [evaluate(prop, L, s, r.item) for s in states]
    for values, s, want in zip(combos, states, verdicts):
        assert dropped(prop, L, s, r.item, site, site.operand) is want, (
            f"dropping `{site.text}` changes {key[0]} on "
            + ", ".join(f"{L.label(o)}={L.show(o, v)}" for o, v in zip(offs, values))
        )
    assert len(states) == math.prod(len(d) for d in domains)
    alone = bool(rec.decisions.get((SHOWN, site.line, site.col, site.operand), 0) & ALONE)
    assert alone is r.alone, f"`{site.text}` decides its And alone: {alone}"


@pytest.mark.parametrize("key", sorted(REDUNDANT), ids=[k[3] for k in sorted(REDUNDANT)])
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_redundant_operand_on_random_states(key, data):
    """Random values for every offset of the fields involved (all files, blocks and
    processes, not just the item's): dropping the operand changes nothing."""
    r, site = REDUNDANT[key], _redundant_site(key)
    prop, L = PROPERTIES[key[0]], r.layout
    changes = {}
    for name in dict.fromkeys(f[0] for f in r.fields):
        values = L.specs[name].values(L.bounds)
        for off in L.flat(name):
            changes[off] = data.draw(st.sampled_from(values), label=L.label(off))
    s = state(L, changes)
    assert dropped(prop, L, s, r.item, site, site.operand) is evaluate(prop, L, s, r.item)


def test_weakening_a_property_fails_its_case(monkeypatch):
    """no_page_two_mappings without page->share == owners: the case's state no longer
    violates it, so check_case raises: the weakening is caught."""
    case = next(c for c in CASES if c.name == "page->share == owners")
    check_case(case)  # the shipped property: caught

    def weakened(L, s, b):
        """no_page_two_mappings without its page->share == owners conjunct."""
        owners = Count(
            L.file_blks,
            lambda fx: vocab.And(
                s[L.xa_kind[fx[0]][fx[1]]] == XA_PFN, s[L.xa_pfn[fx[0]][fx[1]]] == b
            ),
        )
        m = s[L.page_mapping[b]]
        return vocab.And(
            Implies(m == PG_NULL, owners == 0),
            Implies(vocab.And(m != PG_NULL, m != PG_SHARED), owners == 1),
        )

    prop = PROPERTIES["no_page_two_mappings"]
    monkeypatch.setitem(PROPERTIES, "no_page_two_mappings", replace(prop, item_fn=weakened))
    with pytest.raises(AssertionError, match="holds on the state of 'page->share == owners'"):
        check_case(case)


def test_a_case_for_a_redundant_operand_fails():
    """check_case refuses a state where the operand decides its And alone but dropping it
    changes nothing: a zero-page PTE over a written extent's zero-page entry."""
    T_ = TWO_FILES
    case = Case(
        "zero-page PTE: the extent is not written",
        "mapping_matches_extents",
        "mapping_matches_extents",
        "ek != WRITTEN",
        _with(
            T_,
            item=(A, 0),
            changes={
                T_.xa_kind[A][0]: XA_ZERO,
                T_.ext_kind[A][0]: WRITTEN,
                T_.mmap_mode[P0][A]: MM_SHARED,
                T_.pte_kind[P0][A][0]: PTE_ZERO,
            },
        ),
    )
    with pytest.raises(AssertionError, match="top-level And has 2 False operand"):
        check_case(case)


def test_dropping_an_operand_changes_only_that_call():
    """The dropping twin leaves other And calls alone, and the module's And afterwards."""
    L, s, item = next(
        c for c in CASES if c.name == "read(2) within i_size returns written data or zeros"
    ).build()
    prop = PROPERTIES["no_stale_data"]
    loads = next(x for x in sites_of("no_stale_data") if x.text == "loads")
    assert dropped(prop, L, s, item, loads, loads.operand) is False
    read = next(x for x in sites_of("no_stale_data") if x.text == "read")
    assert dropped(prop, L, s, item, read, read.operand) is True
    assert props_fsdax.And is vocab.And
