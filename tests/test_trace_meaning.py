"""Traces are validated by meaning, not only by their seal (issue 27): a file edited and
resealed (the checksum recomputed, as anyone can) whose design settings differ from the
registered design, whose states are not the spec's successors, or whose property holds in
its final state is one line and exit 2 in replay and view, a difference in the gate, and
never "does not reproduce" (exit 0) or a reproduction (exit 12)."""

import json
import shutil

import pytest
from helpers import dax_here, reseal

from daxcheck.checker.gate import DEFAULT_MANIFEST, SHIPPED_DIR, load_manifest, run_gate
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS

CEX = "reflink-single-owner__no_page_two_mappings.itf.json"


def _forged(tmp_path, edit, name=CEX):
    """A shipped trace edited by ``edit(doc)`` and resealed, in ``tmp_path``."""
    doc = json.loads((SHIPPED_DIR / name).read_text())
    edit(doc)
    f = tmp_path / "forged.itf.json"
    f.write_text(json.dumps(reseal(doc), indent=1))
    return f


def _one_line_2(code, out, err, *words):
    assert code == 2, out + err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def _other_value(setting, value):
    choices = DESIGNS["reflink-single-owner"]._CHOICES.get(setting)
    if choices is None:
        return not value
    return next(c for c in choices if c != value)


@pytest.mark.parametrize("setting", ["page_owner", "reflink", "cow", "hole_size", "mmap_map_sync"])
def test_edited_design_settings_are_refused_by_replay_and_view(tmp_path, setting):
    """5 of 5 edited settings replayed silently on main."""

    def edit(doc):
        s = doc["#meta"]["design_settings"]
        s[setting] = _other_value(setting, s[setting])

    f = _forged(tmp_path, edit)
    code, out, err = dax_here("replay", str(f), "--crash-states", "4")
    _one_line_2(code, out, err, "#meta.design_settings", setting, "design changed")
    code, out, err = dax_here("view", str(f), "--html", str(tmp_path / "v.html"))
    _one_line_2(code, out, err, "#meta.design_settings", setting)
    assert not (tmp_path / "v.html").exists()


def test_design_renamed_to_its_fixed_sibling_says_what(tmp_path):
    """Renamed to the fixed sibling and resealed: main said "does not reproduce", exit 0.
    The settings give it away; with the sibling's settings forged too, the states do."""

    def rename(doc):
        doc["#meta"]["design"] = "reflink-shared-count"

    code, out, err = dax_here("replay", str(_forged(tmp_path, rename)))
    _one_line_2(code, out, err, "design_settings", "page_owner")

    def rename_and_settings(doc):
        rename(doc)
        doc["#meta"]["design_settings"] = DESIGNS["reflink-shared-count"].settings()

    f = _forged(tmp_path, rename_and_settings)
    code, out, err = dax_here("replay", str(f))
    _one_line_2(code, out, err, "does not match the spec", "--design reflink-shared-count")
    code, out, err = dax_here("view", str(f), "--html", str(tmp_path / "v.html"))
    _one_line_2(code, out, err, "does not match the spec")
    # Asked explicitly, the recorded actions still replay on the fixed design:
    code, out, err = dax_here("replay", str(f), "--design", "reflink-shared-count")
    assert code == 0 and "does not reproduce" in out, out + err

    def refused(doc):  # the sibling whose fix refuses the reflink: a disabled step
        doc["#meta"]["design"] = "reflink-refused"
        doc["#meta"]["design_settings"] = DESIGNS["reflink-refused"].settings()

    code, out, err = dax_here("replay", str(_forged(tmp_path, refused)))
    _one_line_2(code, out, err, "is not enabled in design reflink-refused", "does not match")


@pytest.mark.parametrize(
    "name,holds",
    [
        ("userspace-flush__durable_after_sync.itf.json", "no_stale_data_after_crash"),
        ("cow-single-iomap__no_stale_data.itf.json", "no_page_two_mappings"),
        (CEX, "durable_after_sync"),
    ],
)
def test_property_swapped_to_one_that_holds_is_refused(tmp_path, name, holds):
    """#meta.property set to a property that holds in the final state, resealed: decided
    on the spec before any byte-level check (main: exit 12, "reproduces at byte level
    only", for a durability property)."""

    def swap(doc):
        doc["#meta"]["property"] = holds

    f = _forged(tmp_path, swap, name)
    code, out, err = dax_here("replay", str(f), "--crash-states", "8")
    _one_line_2(code, out, err, f"#meta.property {holds} holds")
    code, out, err = dax_here("view", str(f), "--html", str(tmp_path / "v.html"))
    _one_line_2(code, out, err, f"{holds} holds")


def test_a_forged_state_is_refused_by_view_and_replay(tmp_path):
    """A recorded state edited (refcount of a page) and resealed: view drew it on main."""

    def edit(doc):
        st = doc["states"][2]
        st["refcount"]["p0"] = 2 if st["refcount"]["p0"] != 2 else 1

    f = _forged(tmp_path, edit)
    for args in (["view", str(f), "--html", str(tmp_path / "v.html")], ["replay", str(f)]):
        code, out, err = dax_here(*args)
        _one_line_2(code, out, err, "not the spec's successor", "refcount[p0]")


def test_gate_reports_edited_settings_as_design_changed(tmp_path):
    small = ("hole-size-unknown", "iomap-hole-size")
    doc = load_manifest(DEFAULT_MANIFEST)
    doc["designs"] = {n: doc["designs"][n] for n in small}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc, indent=1))
    for f in SHIPPED_DIR.glob(f"{small[0]}__*.itf.json"):
        shutil.copy(f, tmp_path / f.name)
    assert run_gate(path, DESIGNS, PROPERTIES).differences == []
    f = tmp_path / "hole-size-unknown__mapping_matches_extents.itf.json"
    t = json.loads(f.read_text())
    t["#meta"]["design_settings"]["hole_size"] = "reported"
    f.write_text(json.dumps(reseal(t)))
    diffs = run_gate(path, DESIGNS, PROPERTIES).differences
    assert [(d.design, d.what) for d in diffs] == [("hole-size-unknown", "counterexample")]
    assert "design changed since this trace: settings hole_size" in diffs[0].computed


def test_a_setting_added_since_the_trace_counts_only_away_from_its_default(tmp_path):
    """An older trace lacks a setting added since: it still replays where the design keeps
    the default, and is refused naming the setting where it does not."""

    def drop(key):
        def edit(doc):
            del doc["#meta"]["design_settings"][key]

        return edit

    design = DESIGNS["reflink-single-owner"]
    default_key = next(
        k for k, v in design.settings().items() if type(design).__dataclass_fields__[k].default == v
    )
    code, out, err = dax_here(
        "replay", str(_forged(tmp_path, drop(default_key))), "--crash-states", "4"
    )
    assert code == 12, out + err
    code, out, err = dax_here("replay", str(_forged(tmp_path, drop("page_owner"))))
    _one_line_2(code, out, err, "page_owner not recorded")
