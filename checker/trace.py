"""Traces: a sequence of actions from an initial state, and their ITF files.

A :class:`Trace` names its design, the property it violates (if any), the bounds, the
actions and the states they produce.  On disk it is an ITF trace (Apalache ADR-015,
``*.itf.json``): ``#meta`` records design, settings, property, bounds, engine, the command
and the tool version; ``vars`` are the state fields; each state is a record of nested
lists of ints and its ``#meta`` records the action (family and arguments) that produced it,
so a trace replays by action (stateright ``checker/path.rs``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from daxcheck import __version__
from daxcheck.spec.model import ActionError, DaxModel
from daxcheck.spec.state import Bounds, BoundsError

ITF_FORMAT = "ITF"


class TraceError(ValueError):
    """A trace file is missing, malformed, truncated or does not fit the model; the
    message names the file and the field."""


@dataclass
class Trace:
    """A run of the model.

    design: design name; prop: violated property name or None; bounds: :class:`Bounds`;
    actions: the actions, one per step (len = number of steps); states: ``len(actions)+1``
    states (``bytes``), ``states[0]`` initial; meta: extra ``#meta`` entries (engine,
    command...).
    """

    design: str
    prop: str | None
    bounds: Bounds
    actions: list
    states: list
    meta: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return len(self.actions)

    @classmethod
    def from_path(cls, model: DaxModel, path, prop=None, meta=None) -> "Trace":
        """Build from an explorer path ``[(action index or -1, state), ...]``."""
        acts = [model.actions[i] for i, _ in path[1:]]
        return cls(model.design.name, prop, model.bounds, acts, [s for _, s in path],
                   dict(meta or {}))

    def path(self, model: DaxModel) -> list:
        """The explorer path ``[(-1, s0), (action index, s1), ...]`` of this trace in
        ``model`` (inverse of :meth:`from_path`; KeyError for an action not in it)."""
        return [(-1, self.states[0])] + [(model.index[a], s)
                                         for a, s in zip(self.actions, self.states[1:])]

    @classmethod
    def from_actions(cls, model: DaxModel, actions, prop=None, meta=None) -> "Trace":
        """Execute ``actions`` from the initial state with the model's semantics.
        Raises TraceError naming the first step whose action is disabled."""
        s = model.init_states()[0]
        states = [s]
        for n, a in enumerate(actions, 1):
            ns = model.next_state(s, a)
            if ns is None:
                raise TraceError(f"step {n}: {a.describe()} is not enabled in design "
                                 f"{model.design.name}")
            states.append(ns)
            s = ns
        return cls(model.design.name, prop, model.bounds, list(actions), states,
                   dict(meta or {}))

    # ------------------------------------------------------------------ ITF
    def to_itf(self, model: DaxModel) -> dict:
        """The ITF document (a dict ready for ``json.dump``)."""
        L = model.L
        meta = {"format": ITF_FORMAT, "source": "daxcheck", "tool": f"daxcheck {__version__}",
                "design": self.design, "design_settings": model.design.settings(),
                "seed": model.design.seed, "property": self.prop,
                "bounds": self.bounds.as_dict(), "depth": self.depth}
        meta.update(self.meta)
        states = []
        for i, s in enumerate(self.states):
            rec = {"#meta": {"index": i}}
            if i > 0:
                a = self.actions[i - 1]
                rec["#meta"].update({"action": a.name, "args": a.args(), "step": a.describe()})
            rec.update(L.to_record(s))
            states.append(rec)
        return {"#meta": meta, "vars": [f[0] for f in L.fields], "states": states}

    def write(self, model: DaxModel, path, force: bool = False) -> str:
        """Write the ITF file at ``path``.  Returns "written", or "unchanged" when an identical
        trace (same design, property and states) is already there: that file is left alone,
        even with ``force``.  Raises FileExistsError if a different file is there and
        ``force`` is False."""
        p = Path(path)
        doc = self.to_itf(model)
        if p.exists():
            try:
                old = json.loads(p.read_text())
                same = (old.get("#meta", {}).get("design") == self.design
                        and old.get("#meta", {}).get("property") == self.prop
                        and old.get("states") == doc["states"])
            except (OSError, ValueError, AttributeError):
                same = False
            if same:
                return "unchanged"
            if not force:
                raise FileExistsError(f"{path} exists and holds a different trace "
                                      f"(use --force to overwrite it)")
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, p)
        return "written"


def file_name_for(design: str, prop: str) -> str:
    """Counterexample file name: ``<design>__<property>.itf.json``."""
    return f"{design}__{prop}.itf.json"


def read_itf(path, designs=None) -> tuple[Trace, DaxModel, dict]:
    """Load an ITF trace written by daxcheck.

    Returns ``(trace, model, doc)`` where ``trace.states`` are the *recorded* states and
    ``trace.actions`` the recorded actions (resolved against the design's model at the
    recorded bounds).  ``designs`` is the registry to resolve the design name in (default:
    the shipped registry).  Raises TraceError naming the file and the offending field.
    """
    from daxcheck.spec.designs import DESIGNS
    designs = DESIGNS if designs is None else designs
    p = str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise TraceError(f"{p}: no such file") from None
    except OSError as e:
        raise TraceError(f"{p}: cannot read: {e.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise TraceError(f"{p}: not valid JSON (truncated?): {e.msg} at line {e.lineno}") from None
    if not isinstance(doc, dict):
        raise TraceError(f"{p}: top level is not an ITF object")
    meta = doc.get("#meta")
    if not isinstance(meta, dict):
        raise TraceError(f"{p}: field #meta is missing")
    for key in ("design", "bounds"):
        if key not in meta:
            raise TraceError(f"{p}: field #meta.{key} is missing")
    name = meta["design"]
    if name not in designs:
        raise TraceError(f"{p}: field #meta.design names unknown design {name!r} "
                         f"(known: {', '.join(designs)})")
    try:
        bounds = Bounds(**meta["bounds"]).validate()
    except (TypeError, BoundsError) as e:
        raise TraceError(f"{p}: field #meta.bounds is invalid: {e}") from None
    from daxcheck.usercode import guard_design
    model = DaxModel(guard_design(designs[name]), bounds)
    states_doc = doc.get("states")
    if not isinstance(states_doc, list) or not states_doc:
        raise TraceError(f"{p}: field states is missing or empty")
    if doc.get("vars") != [f[0] for f in model.L.fields]:
        raise TraceError(f"{p}: field vars does not match this version's state fields")
    actions, states = [], []
    for i, rec in enumerate(states_doc):
        if not isinstance(rec, dict):
            raise TraceError(f"{p}: field states[{i}] is not a record")
        try:
            states.append(model.L.from_record(rec))
        except KeyError as e:
            raise TraceError(f"{p}: field states[{i}].{e.args[0]} is missing") from None
        except ValueError as e:
            raise TraceError(f"{p}: field states[{i}]: {e}") from None
        if i == 0:
            continue
        m = rec.get("#meta")
        if not isinstance(m, dict) or "action" not in m or not isinstance(m.get("args"), dict):
            raise TraceError(f"{p}: field states[{i}].#meta.action/args is missing")
        try:
            actions.append(model.action_from_args(m["action"], m["args"]))
        except ActionError as e:
            raise TraceError(f"{p}: field states[{i}].#meta: {e}") from None
    prop = meta.get("property")
    extra = {k: v for k, v in meta.items() if k in ("engine", "command")}
    return Trace(name, prop, bounds, actions, states, extra), model, doc
