"""Replay of a saved counterexample through the current spec.

The actions recorded in an ITF file are re-executed from the initial state of the
recorded design at the recorded bounds; recorded and recomputed states are compared field
by field (the first divergence is reported, e.g. after a spec change), and the property is
evaluated on the final state.  A violation that no longer reproduces (an action is now
disabled, or the property holds) is the expected outcome after a design fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from daxcheck.properties import lookup

from .trace import Trace, TraceError, read_itf


@dataclass
class SpecReplay:
    """Outcome of replaying a trace on the spec.

    trace: the recomputed :class:`Trace` (up to the last enabled step); model; prop: the
    property name; reproduced: the property fails on the final recomputed state (all steps
    enabled); disabled_at: 1-based step whose action is no longer enabled, or None;
    divergence: "step N: field old -> new" for the first recorded/recomputed difference,
    or None.
    """

    trace: Trace
    model: object
    prop: str
    reproduced: bool
    disabled_at: int | None = None
    divergence: str | None = None
    notes: list = field(default_factory=list)


def replay_spec(path, designs=None) -> SpecReplay:
    """Replay the ITF file at ``path``.  Raises TraceError for a malformed file, an unknown
    design, or a property that is not registered (load the user's file first)."""
    recorded, model, _ = read_itf(path, designs)
    name = recorded.prop
    if name is None:
        raise TraceError(f"{path}: field #meta.property is empty: not a counterexample")
    try:
        prop = lookup(name)
    except KeyError:
        raise TraceError(f"{path}: field #meta.property names unknown property {name!r} "
                         f"(pass --properties FILE for a user's invariant)") from None
    L = model.L
    s = model.init_states()[0]
    states, acts = [s], []
    divergence = None
    if recorded.states[0] != s:
        divergence = _diff(L, 0, recorded.states[0], s)
    disabled = None
    for n, a in enumerate(recorded.actions, 1):
        ns = model.next_state(s, a)
        if ns is None:
            disabled = n
            break
        acts.append(a)
        states.append(ns)
        if divergence is None and recorded.states[n] != ns:
            divergence = _diff(L, n, recorded.states[n], ns)
        s = ns
    trace = Trace(model.design.name, name, model.bounds, acts, states, recorded.meta)
    reproduced = disabled is None and not prop.holds(L, s)
    return SpecReplay(trace, model, name, reproduced, disabled, divergence)


def _diff(L, n, old, new) -> str:
    for o in range(L.width):
        if old[o] != new[o]:
            return f"step {n}: {L.label(o)} recorded {L.show(o, old[o])}, spec now {L.show(o, new[o])}"
    return f"step {n}: differs"
