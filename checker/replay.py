"""Replay of a saved counterexample through the current spec.

The actions recorded in an ITF file are re-executed from the initial state of the
recorded design at the recorded bounds; recorded and recomputed states are compared field
by field, and the property is evaluated on the final state.  On the recorded design the file
is validated by meaning, not only by its seal: ``#meta.design_settings`` must equal the
registered design's (:func:`~daxcheck.checker.trace.check_design_settings`), and
:func:`mismatch` says why a replay contradicts the file (a disabled step, a state that is not
the spec's successor, a property that holds); the CLI and the gate refuse such a file.

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
from pathlib import Path

from daxcheck.properties import lookup
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel
from daxcheck.usercode import guard_design
from daxcheck.userfile import provenance

from .results import did_you_mean
from .trace import Trace, TraceError, check_design_settings, read_itf, recorded_path


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
    disabled_step: str | None = None
    """The disabled step's action, described (``reflink(src=a, dst=b)``), or None."""
    property_changed: bool = False
    """The property comes from a user's file other than the one the trace records (the
    user passed ``--properties FILE`` as it is now): its verdict is asked for anew."""


def replay_spec(path, designs=None, on_design=None) -> SpecReplay:
    """Replay the ITF file at ``path`` on its recorded design, or with ``on_design`` (a
    design name) on that design at the recorded bounds.  Raises TraceError for a malformed
    or tampered file, a file without an integrity checksum replayed without ``on_design``,
    an unknown design, or a property that is not registered (load the user's file
    first)."""
    designs = DESIGNS if designs is None else designs
    recorded, model, doc = read_itf(path, designs)
    if on_design is None and not recorded.verified:
        raise TraceError(
            f"{path}: field #meta.integrity is missing: an older or stripped "
            f"file cannot be told apart from an edited one; re-record it, or "
            f"replay its actions on a design you name with --design D"
        )
    if on_design is None:
        check_design_settings(str(path), doc["#meta"], model.design)
    name = recorded.prop
    if name is None:
        raise TraceError(f"{path}: field #meta.property is empty: not a counterexample")
    try:
        prop = lookup(name)
    except KeyError:
        raise TraceError(
            f"{path}: field #meta.property names unknown property {name!r} "
            f"(pass --properties FILE for a user's invariant)"
        ) from None
    notes = []
    changed = _property_file_changed(doc["#meta"], name, Path(path).resolve().parent)
    if changed:
        notes.append(
            f"property {name} is evaluated as {changed} defines it now (not the "
            f"file the trace records)"
        )
    if on_design is not None:
        if on_design not in designs:
            raise TraceError(
                f"unknown design {on_design!r} for --design"
                f"{did_you_mean(on_design, designs)} (valid: {', '.join(designs)})"
            )
        if on_design != model.design.name:
            notes.append(f"recorded on design {model.design.name}, replayed on {on_design}")
            model = DaxModel(guard_design(designs[on_design]), recorded.bounds)
        if not recorded.verified:
            notes.append(
                "the file has no integrity checksum: its actions are replayed as they stand"
            )
    acts, states, disabled, disabled_step, divergence = _rerun(recorded, model, notes)
    s = states[-1]
    L = model.L
    trace = Trace(model.design.name, name, model.bounds, acts, states, recorded.meta)
    reproduced = disabled is None and not prop.holds(L, s)
    return SpecReplay(
        trace, model, name, reproduced, disabled, divergence, notes, disabled_step, bool(changed)
    )


def _rerun(recorded: Trace, model, notes: list):
    """Re-execute ``recorded``'s actions on ``model`` from its initial state, appending to
    ``notes`` why a step is outside the design's scope.  Returns ``(actions, states,
    disabled step number or None, disabled action's description or None, first divergence
    from the recorded states or None)`` (divergence only on the recorded design)."""
    L = model.L
    s = model.init_states()[0]
    states, acts = [s], []
    same_design = model.design.name == recorded.design
    divergence = None
    if same_design and recorded.states[0] != s:
        divergence = _diff(L, 0, recorded.states[0], s)
    disabled = disabled_step = None
    for n, a in enumerate(recorded.actions, 1):
        if a not in model.index:  # another design whose scope lacks this family
            notes.append(
                f"step {n}: {a.describe()} is not an action of design "
                f"{model.design.name} (outside its scope)"
            )
            disabled = n
            break
        ns = model.next_state(s, a)
        if ns is None:
            disabled, disabled_step = n, a.describe()
            break
        acts.append(a)
        states.append(ns)
        if same_design and divergence is None and recorded.states[n] != ns:
            divergence = _diff(L, n, recorded.states[n], ns)
        s = ns
    return acts, states, disabled, disabled_step, divergence


def _property_file_changed(meta: dict, name: str, base) -> str | None:
    """The path of the user file registering property ``name`` now, when the trace's
    ``#meta.user_files`` records that path (relative to the trace's folder ``base``, or
    absolute in older files) with another SHA-256 (the user loaded the file as it is now);
    else None."""
    rec = provenance("properties", name) or provenance("lemmas", name)
    if rec is None:
        return None
    for e in meta.get("user_files", ()):
        if (
            isinstance(e, dict)
            and e.get("kind") == "properties"
            and isinstance(e.get("path"), str)
            and recorded_path(e["path"], base) == str(Path(rec.path).resolve())
            and e.get("sha256") != rec.sha256
        ):
            return rec.path
    return None


def mismatch(r: SpecReplay, path) -> str | None:
    """Why a replay on the *recorded* design (no ``on_design``) contradicts the file, as
    one line naming ``path``, or None: a step the file records is not enabled, a recorded
    state is not the spec's successor, or the recorded property holds in the final state
    on the spec.  Each means the trace is not what the spec computes: the spec or the
    design changed since it was written, or the file was edited (and resealed)."""
    why = None
    if r.disabled_at is not None:
        why = (
            f"step {r.disabled_at} ({r.disabled_step or 'its action'}) is not "
            f"enabled in design {r.model.design.name}, yet the file records its successor"
        )
    elif r.divergence:
        why = f"a recorded state is not the spec's successor ({r.divergence})"
    elif not r.reproduced and not r.property_changed:
        why = (
            f"#meta.property {r.prop} holds in the final state on the spec: the file is "
            f"not a counterexample of it"
        )
    if why is None:
        return None
    return (
        f"{path}: the trace does not match the spec: {why} (the spec or the design "
        f"changed since it was written, or the file was edited; to replay its actions "
        f"as they stand, pass --design {r.model.design.name})"
    )


def check_states(path, recorded: Trace, model) -> None:
    """Re-execute the recorded actions of ``recorded`` (read from ``path``) from the initial
    state of ``model`` and raise TraceError (one line) at the first step that is disabled or
    whose recorded state differs from the spec's successor."""
    s = model.init_states()[0]
    if recorded.states[0] != s:
        raise TraceError(
            f"{path}: the trace does not match the spec: the recorded initial "
            f"state is not the design's ({_diff(model.L, 0, recorded.states[0], s)})"
        )
    for n, a in enumerate(recorded.actions, 1):
        ns = model.next_state(s, a)
        if ns is None:
            raise TraceError(
                f"{path}: the trace does not match the spec: step {n} "
                f"({a.describe()}) is not enabled in design {model.design.name}"
            )
        if recorded.states[n] != ns:
            raise TraceError(
                f"{path}: the trace does not match the spec: a recorded state "
                f"is not the spec's successor ({_diff(model.L, n, recorded.states[n], ns)})"
            )
        s = ns


def _diff(L, n, old, new) -> str:
    for o in range(L.width):
        if old[o] != new[o]:
            return (
                f"step {n}: {L.label(o)} recorded {L.show(o, old[o])}, spec now {L.show(o, new[o])}"
            )
    return f"step {n}: differs"
