"""Replay of a saved counterexample through the current spec.

The actions recorded in an ITF file are re-executed from the initial state of the
recorded design at the recorded bounds; recorded and recomputed states are compared field
by field (the first divergence is reported, e.g. after a spec change), and the property is
evaluated on the final state.

What a file says is trusted only when it is intact: :func:`~daxcheck.checker.trace.read_itf`
refuses a file whose integrity checksum does not match ("tampered", exit 2), so a trace
whose design was renamed to a fixed design, or whose middle state was deleted, is never
reported as "no longer reproduces".  A file without a checksum (written before daxcheck
recorded one, or stripped of it) cannot be told apart from an edited one, so it replays only
on a design the user names.  Asking "does this counterexample still reproduce on the fixed
design?" is explicit: ``on_design`` (``daxcheck replay FILE --design D``) replays the
recorded actions on another design at the recorded bounds; there, a violation that no
longer reproduces (a step is disabled or outside the design's scope, or the property
holds) is the expected outcome of a fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from daxcheck.properties import lookup

from .results import did_you_mean
from .trace import Trace, TraceError, read_itf


@dataclass
class SpecReplay:
    """Outcome of replaying a trace on the spec.

    trace: the recomputed :class:`Trace` (up to the last enabled step); model; prop: the
    property name; reproduced: the property fails on the final recomputed state (all steps
    enabled); disabled_at: 1-based step whose action is no longer enabled (or not an action
    of the design replayed on), or None; divergence: "step N: field old -> new" for the
    first recorded/recomputed difference on the recorded design, or None; notes: lines to
    show (another design, an unverified file, a step outside the design's scope).
    """

    trace: Trace
    model: object
    prop: str
    reproduced: bool
    disabled_at: int | None = None
    divergence: str | None = None
    notes: list = field(default_factory=list)


def replay_spec(path, designs=None, on_design=None) -> SpecReplay:
    """Replay the ITF file at ``path`` on its recorded design, or with ``on_design`` (a
    design name) on that design at the recorded bounds.  Raises TraceError for a malformed
    or tampered file, a file without an integrity checksum replayed without ``on_design``,
    an unknown design, or a property that is not registered (load the user's file
    first)."""
    from daxcheck.spec.designs import DESIGNS
    designs = DESIGNS if designs is None else designs
    recorded, model, _ = read_itf(path, designs)
    if on_design is None and not recorded.verified:
        raise TraceError(f"{path}: field #meta.integrity is missing: an older or stripped "
                         f"file cannot be told apart from an edited one; re-record it, or "
                         f"replay its actions on a design you name with --design D")
    name = recorded.prop
    if name is None:
        raise TraceError(f"{path}: field #meta.property is empty: not a counterexample")
    try:
        prop = lookup(name)
    except KeyError:
        raise TraceError(f"{path}: field #meta.property names unknown property {name!r} "
                         f"(pass --properties FILE for a user's invariant)") from None
    notes = []
    if on_design is not None:
        if on_design not in designs:
            raise TraceError(f"unknown design {on_design!r} for --design"
                             f"{did_you_mean(on_design, designs)} (valid: {', '.join(designs)})")
        if on_design != model.design.name:
            from daxcheck.spec.model import DaxModel
            from daxcheck.usercode import guard_design
            notes.append(f"recorded on design {model.design.name}, replayed on {on_design}")
            model = DaxModel(guard_design(designs[on_design]), recorded.bounds)
        if not recorded.verified:
            notes.append("the file has no integrity checksum: its actions are replayed as "
                         "they stand")
    L = model.L
    s = model.init_states()[0]
    states, acts = [s], []
    same_design = model.design.name == recorded.design
    divergence = None
    if same_design and recorded.states[0] != s:
        divergence = _diff(L, 0, recorded.states[0], s)
    disabled = None
    for n, a in enumerate(recorded.actions, 1):
        if a not in model.index:          # another design whose scope lacks this family
            notes.append(f"step {n}: {a.describe()} is not an action of design "
                         f"{model.design.name} (outside its scope)")
            disabled = n
            break
        ns = model.next_state(s, a)
        if ns is None:
            disabled = n
            break
        acts.append(a)
        states.append(ns)
        if same_design and divergence is None and recorded.states[n] != ns:
            divergence = _diff(L, n, recorded.states[n], ns)
        s = ns
    trace = Trace(model.design.name, name, model.bounds, acts, states, recorded.meta)
    reproduced = disabled is None and not prop.holds(L, s)
    return SpecReplay(trace, model, name, reproduced, disabled, divergence, notes)


def _diff(L, n, old, new) -> str:
    for o in range(L.width):
        if old[o] != new[o]:
            return f"step {n}: {L.label(o)} recorded {L.show(o, old[o])}, spec now {L.show(o, new[o])}"
    return f"step {n}: differs"
