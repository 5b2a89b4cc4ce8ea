"""The counterexamples shipped in counterexamples/ are what `daxcheck check` computes today,
and each reproduces on the spec and byte-level on a pmem buffer."""
from pathlib import Path

import pytest

from daxcheck.checker.concrete.executor import replay_concrete
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.replay import replay_spec
from daxcheck.checker.results import VIOLATED
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

ROOT = Path(__file__).resolve().parent.parent / "counterexamples"
SHIPPED = sorted(ROOT.glob("*.itf.json"))


def test_every_violation_has_a_shipped_counterexample():
    want = set()
    for name, d in DESIGNS.items():
        r = explore(DaxModel(d), [p for p in PROPERTIES.values() if p.origin == "shipped"])
        want |= {f"{name}__{p}.itf.json" for p, v in r.verdicts.items() if v.status == VIOLATED}
    assert {p.name for p in SHIPPED} == want


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_counterexample_is_current_and_reproduces(path):
    r = replay_spec(path)
    assert r.reproduced and r.divergence is None
    m = DaxModel(DESIGNS[r.model.design.name])
    v = explore(m, [PROPERTIES[r.prop]]).verdicts[r.prop]
    assert [m.actions[i] for i, _ in v.trace[1:]] == r.trace.actions
    rep = replay_concrete(r.model, r.trace.actions, prop=r.prop)
    assert rep.refinement_ok and rep.reproduced and (rep.symptoms or rep.crash_images_failed)
