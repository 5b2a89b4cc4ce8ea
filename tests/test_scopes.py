"""Coverage scopes (issue 28, spec/scopes.py): a bug planted where only a coverage scope
decides is caught by the gate's exploration of that scope and by no older design."""

from __future__ import annotations

import inspect
import textwrap

from daxcheck.checker.explicit.explore import explore
from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.kernel import xfs_iomap, xfs_log
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import fallocate
from daxcheck.spec.scopes import SCOPES, is_coverage_scope


def _verdicts(design) -> dict:
    r = explore(DaxModel(design), list(PROPERTIES.values()))
    return {k: (v.status, v.depth) for k, v in r.verdicts.items()}


def _plant(monkeypatch, cls, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the source of ``cls.apply`` (one planted bug)."""
    src = textwrap.dedent(inspect.getsource(cls.apply))
    assert old in src, f"{cls.__name__}.apply no longer contains {old!r}"
    ns: dict = {}
    exec(
        compile(src.replace(old, new), inspect.getsourcefile(cls), "exec"),
        vars(inspect.getmodule(cls)),
        ns,
    )
    monkeypatch.setattr(cls, "apply", ns["apply"])


def _plant_hook(monkeypatch, module, name: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in kernel function ``module.name`` and install the result
    as every design's hook of that name (one planted bug)."""
    src = textwrap.dedent(inspect.getsource(getattr(module, name)))
    assert old in src, f"{name} no longer contains {old!r}"
    src = "\n".join(ln for ln in src.replace(old, new).splitlines() if not ln.startswith("@"))
    ns: dict = {}
    exec(compile(src, inspect.getsourcefile(module), "exec"), vars(module), ns)
    monkeypatch.setattr(Design, name, ns[name])


def test_every_coverage_scope_is_registered_and_holds():
    """The scopes are the merged kernel's behaviour: nothing is violated in them (the
    manifest pins the same; a scope that finds a violation is a finding to look at), and a
    race scope's bound lets the search exhaust its reachable space."""
    for d in SCOPES:
        assert DESIGNS[d.name] is d and is_coverage_scope(d) and not d.expect_violated
        if d.threaded:
            r = explore(DaxModel(d), list(PROPERTIES.values()))
            assert all(v.status == "holds" and v.complete for v in r.verdicts.values()), d.name


def test_zero_range_that_skips_breaking_layouts_is_caught_only_by_its_coverage_scope(monkeypatch):
    """FALLOC_FL_ZERO_RANGE that no longer waits for DMA-pinned pages
    (xfs_break_layouts) frees a pinned block: only cov-zero-range, which combines ZERO_RANGE
    with pins and reflink, sees it; the older designs with ZERO_RANGE in scope do not."""
    targets = [d for d in DESIGNS.values() if "zero_range" in d.families]
    assert any(is_coverage_scope(d) for d in targets)
    assert any(not is_coverage_scope(d) for d in targets)
    before = {d.name: _verdicts(d) for d in targets}
    _plant(
        monkeypatch,
        fallocate.ZeroRange,
        'busy = D.xfs_break_layouts(L, s, f, [x]) if D.has("pin") else True',
        "busy = True",
    )
    after = {d.name: _verdicts(d) for d in targets}
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"cov-zero-range"}
    assert after["cov-zero-range"]["pinned_pages_stay_allocated"][0] == "violated"


def test_unshare_that_ignores_enospc_is_caught_only_by_its_coverage_scope(monkeypatch):
    """FALLOC_FL_UNSHARE_RANGE that goes on when xfs_bmapi_write finds no free block for
    the CoW fork (the ENOSPC guard dropped): only cov-unshare-enospc, where two reflinked
    files fill the whole pmem device, sees it; the other designs with unshare in scope
    always have a free block."""
    targets = [d for d in DESIGNS.values() if "unshare" in d.families]
    assert "cov-unshare-enospc" in {d.name for d in targets}
    assert any(not is_coverage_scope(d) for d in targets)
    before = {d.name: _verdicts(d) for d in targets}
    _plant_hook(monkeypatch, xfs_iomap, "xfs_reflink_unshare", "Or(Not(shared), can)", "True")
    after = {d.name: _verdicts(d) for d in targets}
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"cov-unshare-enospc"}
    assert any(v[0] == "violated" for v in after["cov-unshare-enospc"].values())


def test_log_recovery_that_keeps_s_dax_on_a_reflinked_file_is_caught_by_its_coverage_scope(
    monkeypatch,
):
    """6.1's xfs_inode_supports_dax drops S_DAX from an inode that shares a block when log
    recovery reads it back (``reflink_dax="dropped-on-load"``); a planted bug that drops it
    from the files that do *not* share instead is caught by cov-recover-reflink-6.1, the
    only shipped scope that runs xlog_recover with that setting."""
    targets = [d for d in DESIGNS.values() if d.reflink_dax == "dropped-on-load"]
    assert [d.name for d in targets] == ["cov-recover-reflink-6.1"]
    (scope,) = targets
    assert all(v[0] == "holds" for v in _verdicts(scope).values())  # 6.1's behaviour holds
    _plant_hook(
        monkeypatch,
        xfs_log,
        "xlog_recover",
        "If(shares, 0, d[L.s_dax[f]])",
        "If(shares, d[L.s_dax[f]], 0)",
    )
    assert _verdicts(scope)["dax_flag_changes_only_when_unmapped"][0] == "violated"


def test_the_race_lemmas_hold_on_the_whole_space_of_every_race_design():
    """The race designs' strengthening lemmas (properties/lemmas.py, "Race designs only")
    are claims about reachable states; k-induction assumes them but is not run on the race
    designs (tests/test_prove.py), so here every race design and race coverage scope whose
    bound exhausts its space is explored with them as invariants: a wrong lemma (the
    lock-holder lemma with ``Or`` of the holding operations turned into ``And``, a mutant
    that survived the gate) is caught."""
    lemmas = [p for p in LEMMAS.values() if "Race designs only" in (p.doc or "")]
    races = [d for d in DESIGNS.values() if d.threaded and not d.expect_violated]
    assert lemmas and any(is_coverage_scope(d) for d in races) and len(races) >= 5
    for d in races:
        r = explore(DaxModel(d), lemmas)
        bad = {k: v.depth for k, v in r.verdicts.items() if v.status != "holds"}
        assert not bad and all(v.complete for v in r.verdicts.values()), (d.name, bad)
