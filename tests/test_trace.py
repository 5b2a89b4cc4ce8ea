"""ITF traces: round trip, recorded actions replay, no silent overwrite."""
import json

import pytest

from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.replay import replay_spec
from daxcheck.checker.trace import Trace, TraceError, read_itf
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from helpers import Write, Reflink, model


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


def test_itf_values_are_plain_json(cx):
    _, _, path = cx
    doc = json.loads(path.read_text())
    for st in doc["states"]:
        for k, v in st.items():
            if not k.startswith("#"):
                assert isinstance(v, list)


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
