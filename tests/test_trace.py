"""ITF traces: round trip, recorded actions replay, no silent overwrite."""

import json
import re

import pytest
from helpers import Reflink, Write, model, reseal

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.replay import replay_spec
from daxcheck.checker.trace import Trace, TraceError, read_itf
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel


@pytest.fixture
def cx(tmp_path):
    m = DaxModel(DESIGNS["cow-single-iomap"])
    v = explore(m, [PROPERTIES["no_stale_data"]]).verdicts["no_stale_data"]
    t = Trace.from_path(m, v.trace, "no_stale_data", {"engine": "explicit", "command": "test"})
    path = tmp_path / "t.itf.json"
    assert t.write(m, path) == "written"
    return m, t, path


def test_round_trip(cx):
    m, t, path = cx
    t2, m2, doc = read_itf(path)
    assert t2.actions == t.actions and t2.states == t.states and t2.prop == "no_stale_data"
    assert doc["vars"][0] == "size" and doc["states"][1]["#meta"]["step"] == t.actions[0].describe()
    assert Trace.from_actions(m2, t2.actions).states == t.states


def test_itf_follows_adr_015_and_itf_py_reads_it(cx):
    """Enums are strings, per-file/per-pfn fields records keyed by name, per-block fields
    #map; itf-py (the Apalache/Quint reader) parses the file, and what it writes back
    (integers as #bigint) reads as the same states."""
    import itf_py

    m, t, path = cx
    doc = json.loads(path.read_text())
    tr = itf_py.trace_from_json(doc)
    assert tr.vars == [f[0] for f in m.L.fields] and len(tr.states) == t.depth + 1
    last = tr.states[-1].values
    assert last["ext_kind"].a[0] == "written" and last["media"].p2.s0 == "stale"
    assert last["refcount"].p0 in (0, 1, 2) and last["mmap_mode"].P0.a in ("none", "shared")
    assert tr.states[1].meta["step"] == "write(file=a, idx=0, lo=0, hi=1, token=t1)"
    assert doc["states"][0]["xa_kind"] == {
        "a": {"#map": [[0, "empty"]]},
        "b": {"#map": [[0, "empty"]]},
    }
    back = itf_py.trace_to_json(tr)
    assert json.dumps(back).count("#bigint") > 0
    path.write_text(json.dumps(back))
    assert read_itf(path)[0].states == t.states


def test_earlier_positional_itf_still_reads(cx):
    m, t, path = cx
    doc = json.loads(path.read_text())
    for rec, s in zip(doc["states"], t.states):
        rec.update(m.L.to_record(s))  # nested lists of ints, as before
    del doc["#meta"]["integrity"]  # and no checksum, as before
    path.write_text(json.dumps(doc))
    old = read_itf(path)[0]
    assert old.states == t.states and old.verified is False


@pytest.mark.parametrize(
    "edit,msg",
    [
        (lambda st: st["media"]["p1"].update(s0="stal"), "states[2].media.p1.s0 holds 'stal'"),
        (
            lambda st: st["ext_kind"].update(c=st["ext_kind"]["a"]),
            "states[2].ext_kind must be a record with keys a, b",
        ),
        (
            lambda st: st["xa_kind"]["a"].update({"#map": [[1, "pfn"]]}),
            "states[2].xa_kind.a must be a #map from each of 0..0",
        ),
        (
            lambda st: st.update(refcount={"p0": 300, "p1": 0, "p2": 0}),
            "states[2].refcount.p0 holds 300, not an int",
        ),
        (lambda st: st.pop("cache"), "states[2].cache is missing"),
    ],
)
def test_malformed_itf_values_name_the_field(cx, edit, msg):
    _, _, path = cx
    doc = json.loads(path.read_text())
    edit(doc["states"][2])
    path.write_text(json.dumps(reseal(doc)))
    with pytest.raises(TraceError, match=re.escape(msg)) as e:
        read_itf(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_write_refuses_to_clobber_a_different_file(cx):
    m, t, path = cx
    assert t.write(m, path) == "unchanged"
    path.write_text("{}")
    with pytest.raises(FileExistsError):
        t.write(m, path)
    assert path.read_text() == "{}"
    assert t.write(m, path, force=True) == "written"


def test_from_actions_names_the_disabled_step():
    m = model("reflink-refused")
    with pytest.raises(TraceError, match="step 2: reflink"):
        Trace.from_actions(m, [Write(0, 0, 0, 1, 1), Reflink(0, 1)])


def test_replay_spec_reproduces(cx):
    _, t, path = cx
    r = replay_spec(path)
    assert r.reproduced and r.divergence is None and r.trace.depth == t.depth


def test_every_action_argument_is_documented_and_listed(capsys):
    from dataclasses import fields

    from daxcheck.checker.cli import main
    from daxcheck.spec.arguments import arg_doc
    from daxcheck.spec.ops import ACTIONS

    docs = {f.name: arg_doc(cls, f.name) for cls in ACTIONS.values() for f in fields(cls)}
    assert all(docs.values()), [n for n, d in docs.items() if not d]
    assert main(["list", "actions", "--verbose"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    for name, doc in docs.items():
        assert f" {name} {' '.join(doc.split()[:3])}" in out, name
