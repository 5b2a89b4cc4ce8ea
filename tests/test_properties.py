"""Properties: each shipped invariant fails on a hand-made bad state; planted bugs in the
spec are caught by exploration; users' property files load or fail with one line."""

import dataclasses

import pytest
from helpers import Fault, Mmap, Write, field, model, run

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.explicit.readset import read_set
from daxcheck.checker.results import VIOLATED
from daxcheck.properties import (
    PROPERTIES,
    InvalidDefinition,
    PropertyFileError,
    invariant,
    load_properties_file,
)
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.kernel import mm, xfs_bmap, xfs_reflink
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import PG_SHARED, PTE_ZERO, STALE, WRITTEN, XA_PFN

A, B = 0, 1
P = PROPERTIES


def _poke(m, s, name, idx, value):
    o = getattr(m.L, name)
    for i in idx:
        o = o[i]
    d = bytearray(s)
    d[o] = value
    return bytes(d)


@pytest.fixture
def base():
    m = model()
    s = run(m, Write(A, 0, 0, 1, 1), Mmap(0, A, False), Fault(0, A, 0, False))
    for p in P.values():
        if p.origin == "shipped":
            assert p.holds(m.L, s), p.name
    return m, s


def test_no_page_two_mappings_detects_unshared_second_owner(base):
    m, s = base
    p = field(m, s, "ext_pblk", A, 0)
    s = _poke(m, s, "xa_kind", (B, 0), XA_PFN)
    s = _poke(m, s, "xa_pfn", (B, 0), p)
    assert not P["no_page_two_mappings"].holds(m.L, s)
    s = _poke(m, s, "page_mapping", (p,), PG_SHARED)
    s = _poke(m, s, "page_share", (p,), 2)
    assert P["no_page_two_mappings"].holds(m.L, s)


def test_mapping_matches_extents_detects_zero_pte_over_written(base):
    m, s = base
    s = _poke(m, s, "pte_kind", (0, A, 0), PTE_ZERO)
    assert not P["mapping_matches_extents"].holds(m.L, s)


def test_no_stale_data_detects_stale_media(base):
    m, s = base
    p = field(m, s, "ext_pblk", A, 0)
    assert not P["no_stale_data"].holds(m.L, _poke(m, s, "media", (p, 1), STALE))
    assert not P["no_stale_data"].holds(m.L, _poke(m, s, "media", (p, 1), 2))  # never written here


def test_durable_after_sync_detects_unjournaled_promise(base):
    m, s = base
    s = _poke(m, s, "ghost_durable", (A, 0, 0), 2)
    assert not P["durable_after_sync"].holds(m.L, s)  # the extent is not in the journal
    s = _poke(m, s, "jext_kind", (A, 0), WRITTEN)
    s = _poke(m, s, "jsize", (A,), 1)
    assert P["durable_after_sync"].holds(m.L, s)


def test_refcounts_and_immutable(base):
    m, s = base
    p = field(m, s, "ext_pblk", A, 0)
    assert not P["refcounts_consistent"].holds(m.L, _poke(m, s, "refcount", (p,), 2))
    sealed = _poke(m, s, "sealed", (A,), 1)
    assert not P["immutable_extents_never_move"].holds(m.L, sealed)  # journal has a hole


def test_properties_have_docstrings_naming_a_kernel_bug():
    for p in P.values():
        if p.origin == "shipped":
            assert len(p.doc) > 80 and "Catches" in p.doc, p.name


def test_every_shipped_property_is_symbolically_analysable():
    L = DaxModel(DESIGNS["cow-srcmap"]).L
    races = DaxModel(DESIGNS["xfs-break-dax-layouts"]).L  # no_deadlock reads thread state
    for p in P.values():
        if p.origin == "shipped":
            rs = read_set(p.fn, L) or read_set(p.fn, races)
            assert rs, p.name


# ------------------------------------------------------------------- planted bugs
def _explore(design, depth, props):
    m = DaxModel(design, design.bounds.replace(depth=depth))
    return explore(m, [P[n] for n in props]).verdicts


class ForgetfulDisassociate(Design):
    """Planted bug: entry deletion never clears page->mapping."""

    def dax_disassociate_entry(self, L, d, b, f, x):
        pass


def test_planted_disassociate_bug_is_caught():
    base = DESIGNS["reflink-shared-count"]
    d = ForgetfulDisassociate(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    v = _explore(d, 5, ["no_page_two_mappings"])["no_page_two_mappings"]
    assert v.status == VIOLATED


class NoCowCopy(Design):
    """Planted bug: CoW never fills the destination."""

    def dax_iomap_copy_around(self, L, d, src_kind, src, dst, segs, whole):
        pass


def test_planted_cow_copy_bug_is_caught():
    base = DESIGNS["cow-srcmap"]
    d = NoCowCopy(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    assert _explore(d, 3, ["no_stale_data"])["no_stale_data"].status == VIOLATED


def test_planted_dirty_tracking_bug_is_caught():
    class NoDirty(Design):
        def dax_mark_dirty(self, L, s, f):
            return False

    base = DESIGNS["map-sync"]
    d = NoDirty(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    assert _explore(d, 6, ["durable_after_sync"])["durable_after_sync"].status == VIOLATED


def test_planted_refcount_bug_is_caught(monkeypatch):
    real = xfs_bmap.ref_add
    for mod in (xfs_bmap, xfs_reflink):
        monkeypatch.setattr(
            mod, "ref_add", lambda L, d, b, delta: real(L, d, b, delta) if delta > 0 else None
        )
    v = _explore(DESIGNS["reflink-shared-count"], 3, ["refcounts_consistent"])
    assert v["refcounts_consistent"].status == VIOLATED


def test_planted_stale_pte_bug_is_caught(monkeypatch):
    monkeypatch.setattr(mm, "unmap", lambda L, d, f, x: None)
    v = _explore(DESIGNS["reflink-shared-count"], 5, ["mapping_matches_extents"])
    assert v["mapping_matches_extents"].status == VIOLATED


def test_planted_journal_bug_is_caught(monkeypatch):
    monkeypatch.setattr(Design, "xfs_log_force", lambda self, L, d: None)
    v = _explore(DESIGNS["map-sync"], 5, ["durable_after_sync"])
    assert v["durable_after_sync"].status == VIOLATED


# ------------------------------------------------------------------- user properties
def test_invariant_decorator_rejects_bad_definitions():
    with pytest.raises(InvalidDefinition, match="docstring"):

        @invariant
        def undocumented(L, s):
            return True

    with pytest.raises(InvalidDefinition, match="take"):

        @invariant
        def one_arg(s):
            """Doc."""
            return True

    with pytest.raises(InvalidDefinition, match="already registered"):

        @invariant(name="no_stale_data")
        def dup(L, s):
            """Doc."""
            return True


def test_user_property_file_loads_and_is_checked(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text('''
from daxcheck.properties import invariant
from daxcheck.spec.vocab import ForAll, Not, And

@invariant
def test_user_never_two_files_written(L, s):
    """Files a and b never map the same physical block (toy user invariant)."""
    return ForAll(L.blks, lambda x: Not(And(s[L.ext_kind[0][x]] != 0, s[L.ext_kind[1][x]] != 0,
                                            s[L.ext_pblk[0][x]] == s[L.ext_pblk[1][x]])))
''')
    try:
        assert load_properties_file(str(f)) == ["test_user_never_two_files_written"]
        p = PROPERTIES["test_user_never_two_files_written"]
        assert p.origin == str(f)
        m = DaxModel(DESIGNS["reflink-shared-count"])
        v = explore(m, [p]).verdicts[p.name]
        assert v.status == VIOLATED and v.depth == 2  # write a; reflink a->b
    finally:
        PROPERTIES.pop("test_user_never_two_files_written", None)


@pytest.mark.parametrize(
    "body,msg",
    [
        ("x = (", "SyntaxError"),
        ("import nonexistent_module_xyz", "ModuleNotFoundError"),
        ("y = 1", "defines no @invariant"),
        (
            "from daxcheck.properties import invariant\n@invariant\ndef nodoc(L, s):\n    return True\n",
            "no docstring",
        ),
    ],
)
def test_bad_user_property_files_give_one_line_errors(tmp_path, body, msg):
    f = tmp_path / "bad.py"
    f.write_text(body)
    with pytest.raises(PropertyFileError, match=msg) as e:
        load_properties_file(str(f))
    assert "\n" not in str(e.value)
    with pytest.raises(PropertyFileError, match="does not exist"):
        load_properties_file(str(tmp_path / "missing.py"))


class StaleLineWrite(Design):
    """Planted bug: write(2) stores to the media but leaves a dirty cache line of the block
    in place, so later loads and reads see the older data."""

    def dax_copy_from_iter(self, L, d, p, g, t):
        from daxcheck.spec.vocab import store

        store(d, L.media_col[g], p, t)


def test_planted_stale_cache_line_is_caught_only_by_read_returns_last_write():
    base = DESIGNS["map-sync"].variant(bounds=DESIGNS["map-sync"].bounds.replace(tokens=2, depth=5))
    d = StaleLineWrite(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})
    v = _explore(d, 5, [p for p, x in P.items() if x.origin == "shipped"])
    bad = {p: x.depth for p, x in v.items() if x.status == VIOLATED}
    assert bad == {"read_returns_last_write": 5}  # mmap, write t1, fault, store t2, write t1
    fixed = _explore(base, 5, ["read_returns_last_write"])
    assert fixed["read_returns_last_write"].status != VIOLATED
