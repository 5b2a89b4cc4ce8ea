"""Traces: a sequence of actions from an initial state, and their ITF files.

A :class:`Trace` names its design, the property it violates (if any), the bounds, the
actions and the states they produce.  On disk it is an ITF trace (Apalache ADR-015,
``*.itf.json``): ``#meta`` records design, settings, property, bounds, engine, the command,
the tool version and the user files the trace needs; ``vars`` are the state fields; each
state's ``#meta`` records the action (family and arguments) that produced it, so a trace
replays by action (stateright ``checker/path.rs``).

State fields are rendered from the layout's field metadata (``Layout.fields``: name, index
dimensions, enum), so a new field needs no code here: an index dimension with named
members (files ``a b c``, pfns ``p0 p1``, processes ``P0``, segments ``s0``, tokens ``t1``)
is a record keyed by those names; a numeric one (file block index) is an ITF ``#map`` from
the index to the value; a value with an enum is its name as a string (``"written"``,
``"pfn"``, ``"stale"``, ``"p1"``, ``"t2"``), a plain counter stays an integer.  E.g.
``"ext_kind": {"a": {"#map": [[0, "written"], [1, "hole"]]}}``,
``"media": {"p0": {"s0": "t1", "s1": "stale"}}``.  Reading also accepts the earlier
positional form (nested lists of integers).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from daxcheck import __version__
from daxcheck.fileio import InputFileError, atomic_write, check_destination, read_json
from daxcheck.properties import LEMMAS, PROPERTIES, PropertyFileError, load_properties_file
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import ActionError, DaxModel
from daxcheck.spec.state import Bounds, BoundsError
from daxcheck.usercode import guard_design
from daxcheck.userfile import GIVEN, LOADED, UserFileError, file_sha256, provenance

from .itf import TraceError, state_from_itf, state_to_itf
from .resolve import InputError, load_designs_file

ITF_FORMAT = "ITF"
BOUND_KEYS = ("files", "blocks", "phys", "tokens", "procs", "depth")
OPTIONAL_BOUND_KEYS = ("segs", "threads")
"""Bounds a trace records only when they differ from their default (``Bounds.as_dict``)."""

_VALUE = {
    "anyOf": [
        {"type": ["integer", "string", "boolean"]},
        {
            "type": "object",
            "required": ["#bigint"],
            "additionalProperties": False,
            "properties": {"#bigint": {"type": "string", "pattern": "^-?[0-9]{1,40}$"}},
        },
        {
            "type": "object",
            "required": ["#map"],
            "additionalProperties": False,
            "properties": {
                "#map": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "items": {"$ref": "#/$defs/value"},
                    },
                }
            },
        },
        {
            "type": "object",
            "propertyNames": {"pattern": "^[^#]"},
            "additionalProperties": {"$ref": "#/$defs/value"},
        },
        {"type": "array", "items": {"$ref": "#/$defs/value"}},
    ]
}
TRACE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["#meta", "vars", "states"],
    "properties": {
        "#meta": {
            "type": "object",
            "required": ["design", "bounds"],
            "properties": {
                "format": {"type": "string"},
                "source": {"type": "string"},
                "tool": {"type": "string"},
                "design": {"type": "string", "minLength": 1, "maxLength": 200},
                "design_settings": {"type": "object"},
                "seed": {"type": "string"},
                "property": {"type": ["string", "null"], "maxLength": 200},
                "bounds": {
                    "type": "object",
                    "required": list(BOUND_KEYS),
                    "additionalProperties": False,
                    "properties": {
                        **{k: {"type": "integer"} for k in BOUND_KEYS + OPTIONAL_BOUND_KEYS},
                        "cuts": {"type": "array", "items": {"type": "integer"}},
                    },
                },
                "depth": {"type": "integer", "minimum": 0},
                "engine": {"type": "string"},
                "command": {"type": "string"},
                "user_files": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kind", "path", "sha256"],
                        "additionalProperties": False,
                        "properties": {
                            "kind": {"enum": ["designs", "properties"]},
                            "path": {"type": "string", "minLength": 1},
                            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        },
                    },
                },
                "integrity": {
                    "type": "object",
                    "required": ["sha256"],
                    "additionalProperties": False,
                    "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                },
            },
        },
        "vars": {"type": "array", "items": {"type": "string"}},
        "states": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["#meta"],
                "properties": {
                    "#meta": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer", "minimum": 0},
                            "action": {"type": "string", "minLength": 1, "maxLength": 100},
                            "args": {
                                "type": "object",
                                "additionalProperties": {"type": ["integer", "boolean"]},
                            },
                            "step": {"type": "string"},
                        },
                    }
                },
                "additionalProperties": {"$ref": "#/$defs/value"},
            },
        },
    },
    "$defs": {"value": _VALUE},
}
"""JSON Schema (draft 2020-12) of a daxcheck ITF trace, checked before the file is used:
``#meta`` with every bound (a deleted bound is an error, not a default), the ITF value
grammar (integers, strings, booleans, ``#bigint``, ``#map``, records, lists) for state
fields, integer or boolean action arguments.  What the values mean is checked afterwards
against the recorded bounds' layout (:func:`state_from_itf`)."""

INTEGRITY_NOTE = (
    "the SHA-256 of the canonical JSON (sorted keys, no spaces, #bigint as "
    "integers) of #meta without #meta.integrity, vars and states"
)
"""What ``#meta.integrity.sha256`` covers (documented in counterexamples/README.md)."""


class DesignChanged(TraceError):
    """A trace's ``#meta.design_settings`` differ from the settings of the design registered
    under its name now: the design changed since the trace was written (or the file was
    edited).  ``settings``: the names of the settings that differ."""

    def __init__(self, message: str, settings=()):
        super().__init__(message)
        self.settings = tuple(settings)


def settings_difference(recorded, design) -> list[str]:
    """The settings whose recorded value (``recorded``: a trace's ``#meta.design_settings``
    dict) differs from ``design.settings()``, as ``"name recorded X, now Y"`` strings in
    the design's order, then settings only one side has (a setting the trace does not
    record counts only when the design sets it away from its default: settings added since
    the trace was written do not invalidate it); empty when they agree."""
    now = json.loads(json.dumps(design.settings()))  # as a trace records them
    out = [
        f"{k} recorded {_short(recorded[k], 30)}, now {_short(v, 30)}"
        for k, v in now.items()
        if k in recorded and recorded[k] != v
    ]
    # A setting added since the trace was written: a difference only when the design does
    # not keep its default (the behaviour the trace was explored with).
    defaults = (
        {f.name: f.default for f in dataclasses.fields(design)}
        if dataclasses.is_dataclass(design)
        else {}
    )
    out += [
        f"{k} not recorded, now {_short(v, 30)}"
        for k, v in now.items()
        if k not in recorded and json.loads(json.dumps(defaults.get(k))) != v
    ]
    out += [f"{_short(k, 30)} recorded, not a setting now" for k in recorded if k not in now]
    return out


def check_design_settings(p: str, meta: dict, design) -> None:
    """Raise :class:`DesignChanged` (one line naming the settings that differ) when the
    ITF ``#meta`` of the trace at ``p`` records ``design_settings`` other than ``design``'s
    (the design registered under the recorded name).  A trace without the field (an older
    one) is not compared."""
    rec = meta.get("design_settings")
    if rec is None:
        return
    diff = settings_difference(rec, design)
    if diff:
        names = [d.split(" ", 1)[0] for d in diff]
        more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
        raise DesignChanged(
            f"{p}: field #meta.design_settings differs from design "
            f"{design.name} as registered now ({'; '.join(diff[:3])}{more}): "
            f"the design changed since this trace was written, or the file "
            f"was edited (to replay its actions on a design as it is now, "
            f"pass --design D)",
            names,
        )


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
    verified: bool | None = None
    """For a trace read from a file: True when it carried an integrity checksum (which
    matched: a mismatch is an error), False when it had none (an older file); None for a
    trace computed in memory."""

    @property
    def depth(self) -> int:
        return len(self.actions)

    @classmethod
    def from_path(cls, model: DaxModel, path, prop=None, meta=None) -> Trace:
        """Build from an explorer path ``[(action index or -1, state), ...]``."""
        acts = [model.actions[i] for i, _ in path[1:]]
        return cls(
            model.design.name, prop, model.bounds, acts, [s for _, s in path], dict(meta or {})
        )

    def path(self, model: DaxModel) -> list:
        """The explorer path ``[(-1, s0), (action index, s1), ...]`` of this trace in
        ``model`` (inverse of :meth:`from_path`; KeyError for an action not in it)."""
        return [(-1, self.states[0])] + [
            (model.index[a], s) for a, s in zip(self.actions, self.states[1:])
        ]

    @classmethod
    def from_actions(cls, model: DaxModel, actions, prop=None, meta=None) -> Trace:
        """Execute ``actions`` from the initial state with the model's semantics.
        Raises TraceError naming the first step whose action is disabled."""
        s = model.init_states()[0]
        states = [s]
        for n, a in enumerate(actions, 1):
            ns = model.next_state(s, a)
            if ns is None:
                raise TraceError(
                    f"step {n}: {a.describe()} is not enabled in design {model.design.name}"
                )
            states.append(ns)
            s = ns
        return cls(model.design.name, prop, model.bounds, list(actions), states, dict(meta or {}))

    # ------------------------------------------------------------------ ITF
    def to_itf(self, model: DaxModel, base=None) -> dict:
        """The ITF document (a dict ready for ``json.dump``).  ``base``: the folder the
        file goes to; user files are recorded relative to it (absolute without it)."""
        L = model.L
        meta = {
            "format": ITF_FORMAT,
            "source": "daxcheck",
            "tool": f"daxcheck {__version__}",
            "design": self.design,
            "design_settings": model.design.settings(),
            "seed": model.design.seed,
            "property": self.prop,
            "bounds": self.bounds.as_dict(),
            "depth": self.depth,
        }
        meta.update(self.meta)
        files = user_files_of(self.design, self.prop, model, base)
        if files:
            meta["user_files"] = files
        states = []
        for i, s in enumerate(self.states):
            rec = {"#meta": {"index": i}}
            if i > 0:
                a = self.actions[i - 1]
                rec["#meta"].update({"action": a.name, "args": a.args(), "step": a.describe()})
            rec.update(state_to_itf(L, s))
            states.append(rec)
        doc = {"#meta": meta, "vars": [f[0] for f in L.fields], "states": states}
        meta["integrity"] = {"sha256": integrity_digest(doc)}
        return doc

    def write(self, model: DaxModel, path, *, force: bool = False) -> str:
        """Write the ITF file at ``path``.  Returns "written", or "unchanged" when an identical
        trace (same design, property and states) is already there: that file is left alone,
        even with ``force``.  Raises FileExistsError if a different file is there and
        ``force`` is False."""
        p = Path(path)
        doc = self.to_itf(model, p.parent)
        try:
            exists = check_destination(p)
        except InputFileError as e:
            raise FileExistsError(str(e)) from None
        if exists:
            try:
                old = read_json(p, "trace")
                om = old["#meta"]
                same = (
                    om.get("design") == self.design
                    and om.get("property") == self.prop
                    and old.get("states") == doc["states"]
                )
                intact = isinstance(om.get("integrity"), dict) and om["integrity"].get(
                    "sha256"
                ) == integrity_digest(old)
            except (InputFileError, TypeError, KeyError, AttributeError, ValueError):
                same = intact = False
            if same and intact:
                return "unchanged"
            if not same and not force:  # the same trace without a checksum gets one
                raise FileExistsError(
                    f"{path} exists and holds a different trace (use --force to overwrite it)"
                )
        atomic_write(p, json.dumps(doc, indent=1) + "\n")
        return "written"


def relative_path(path: str, base) -> str:
    """``path`` (absolute) as recorded in a file written to folder ``base``: relative to
    ``base`` with ``/`` separators (``../designs.py``), so the project can move; ``path``
    itself when ``base`` is None or on another drive."""
    if base is None:
        return path
    try:
        return Path(os.path.relpath(path, Path(base).resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path


def recorded_path(path: str, base) -> str:
    """The absolute path of a user file recorded as ``path`` in a file of folder ``base``
    (inverse of :func:`relative_path`; an absolute ``path``, as older files record, is
    kept)."""
    p = Path(path)
    return str(p if p.is_absolute() else (Path(base) / p).resolve())


def user_files_of(design: str, prop: str | None, model=None, base=None) -> list[dict]:
    """The user files a trace of ``design`` violating ``prop`` needs, as ITF ``#meta``
    entries ``{"kind": "designs"|"properties", "path": path, "sha256": hex}`` (empty for
    shipped designs and properties); ``path`` is relative to the folder ``base`` the trace
    is written to (:func:`relative_path`; absolute when ``base`` is None).  With ``model``,
    also the files that declared a user action family in its scope or a ghost field of its
    layout (loaded as a design file)."""
    out = []
    extra = []
    if model is not None:
        extra = [("designs", "actions", f) for f in model.design.families]
        extra += [("designs", "ghost_fields", f[0]) for f in model.L.fields]
    for kind, key, name in (
        ("designs", "designs", design),
        ("properties", "properties", prop),
        ("properties", "lemmas", prop),
        *extra,
    ):
        rec = provenance(key, name) if name else None
        path = None if rec is None else relative_path(rec.path, base)
        if rec is not None and all(e["path"] != path for e in out):
            out.append({"kind": kind, "path": path, "sha256": rec.sha256})
    return out


def load_recorded_user_files(p: str, meta: dict, designs) -> None:
    """Load the user files a trace's ``#meta.user_files`` records (a relative path is
    relative to the trace's folder), unless what they define is registered already.

    The command line takes precedence: an entry of a kind ("designs", "properties") given
    with ``--designs``/``--properties`` in this run (:data:`daxcheck.userfile.GIVEN`) is
    never loaded, and neither is one whose contents (SHA-256) were loaded already from
    any path (a copy of the project).  Raises TraceError naming the field when an entry is
    malformed, or a file is missing ("no longer exists") or changed ("changed since")."""
    entries = meta.get("user_files", [])
    if not isinstance(entries, list):
        raise TraceError(f"{p}: field #meta.user_files is not a list")
    given = set(GIVEN.values())
    for i, e in enumerate(entries):
        where = f"{p}: field #meta.user_files[{i}]"
        if not (
            isinstance(e, dict)
            and e.get("kind") in ("designs", "properties")
            and isinstance(e.get("path"), str)
            and isinstance(e.get("sha256"), str)
        ):
            raise TraceError(f"{where} needs kind (designs|properties), path and sha256")
        if e["kind"] in given:
            continue
        path = recorded_path(e["path"], Path(p).parent)
        loaded = LOADED.get(path)
        if any(rec.sha256 == e["sha256"] for rec in LOADED.values()):
            continue
        if e["kind"] == "designs":
            owner = provenance("designs", meta.get("design"))
            extras = owner is None or owner.path != path  # actions / ghost fields
            needed = meta.get("design") not in designs or (extras and loaded is None)
        else:
            needed = meta.get("property") not in PROPERTIES and meta.get("property") not in LEMMAS
        if not needed:
            continue
        flag = "--designs" if e["kind"] == "designs" else "--properties"
        try:
            digest = file_sha256(path)
        except OSError:
            raise TraceError(
                f"{where}: {path} no longer exists (moved? pass {flag} FILE)"
            ) from None
        if digest != e["sha256"]:
            raise TraceError(
                f"{where}: {path} changed since the trace was written (pass "
                f"{flag} {path} to replay on it as it is now)"
            )
        try:
            if e["kind"] == "designs":
                try:
                    load_designs_file(path)
                except InputError as err:
                    raise UserFileError(str(err)) from None
            else:
                load_properties_file(path)
        except (UserFileError, PropertyFileError) as err:
            raise TraceError(f"{where}: {err}") from None


def file_name_for(design: str, prop: str) -> str:
    """Counterexample file name: ``<design>__<property>.itf.json``."""
    return f"{design}__{prop}.itf.json"


def _canonical(v):
    """``v`` with every ``{"#bigint": "N"}`` replaced by the integer N (lists for tuples)."""
    if isinstance(v, dict):
        if set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
            try:
                return int(v["#bigint"])
            except ValueError:
                return v
        return {k: _canonical(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_canonical(x) for x in v]
    return v


def canonical_json(v) -> str:
    """The canonical JSON text of ``v``: sorted keys, no spaces, ASCII, ``#bigint`` values as
    integers (so a trace re-encoded by itf-py keeps its checksum)."""
    return json.dumps(
        _canonical(v), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def integrity_digest(doc: dict) -> str:
    """Hex SHA-256 over :func:`canonical_json` of the ITF document ``doc``'s ``#meta``
    (without ``integrity``), ``vars`` and ``states``: design, settings, property, bounds,
    the user files, and every state record with the action that produced it.  Written as
    ``#meta.integrity.sha256``; :func:`read_itf` recomputes it, so a hand edit is reported as
    tampering.  (Tamper evidence, not a signature: whoever edits a file can recompute it.)"""
    meta = {k: v for k, v in doc["#meta"].items() if k != "integrity"}
    body = {"#meta": meta, "vars": doc.get("vars"), "states": doc.get("states")}
    return hashlib.sha256(canonical_json(body).encode("ascii")).hexdigest()


@functools.lru_cache(maxsize=1)
def _trace_validator():
    import jsonschema  # third-party, loaded when a trace is read

    return jsonschema.Draft202012Validator(TRACE_SCHEMA)


def json_path(parts) -> str:
    """A JSON Schema error path as a field name: ``states[1].#meta.args.file``."""
    out = ""
    for x in parts:
        out += f"[{x}]" if isinstance(x, int) else (f".{x}" if out else str(x))
    return out or "(top level)"


def _short(v, n=60) -> str:
    r = " ".join(repr(v).split())
    return r if len(r) <= n else r[: n - 3] + "..."


def schema_error(p: str, doc) -> str | None:
    """One line naming the first field of ``doc`` that breaks :data:`TRACE_SCHEMA`, or None
    when the document fits it."""
    import jsonschema

    err = jsonschema.exceptions.best_match(_trace_validator().iter_errors(doc))
    if err is None:
        return None
    where = list(err.absolute_path)
    if err.validator == "required":
        missing = next((k for k in err.validator_value if k not in err.instance), "?")
        return f"{p}: field {json_path(where + [missing])} is missing"
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = [k for k in err.instance if k not in err.schema.get("properties", {})]
        return f"{p}: field {json_path(where + extra[:1])} is not allowed here"
    if err.validator in ("anyOf", "propertyNames") and "#meta" not in where[1:2]:
        return f"{p}: field {json_path(where)} holds {_short(err.instance)}, not an ITF value"
    if err.validator == "type":
        want = (
            [err.validator_value] if isinstance(err.validator_value, str) else err.validator_value
        )
        want = " or ".join(_ARTICLE.get(w, w) for w in want)
        return f"{p}: field {json_path(where)} holds {_short(err.instance)}, not {want}"
    msg = " ".join(err.message.replace(repr(err.instance), _short(err.instance)).split())
    return f"{p}: field {json_path(where)}: {msg[:160]}"


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "number": "a number",
}


def load_itf_document(path) -> dict:
    """The ITF document at ``path``, read safely (:func:`daxcheck.fileio.read_json`: a
    regular file under the size cap, UTF-8, JSON, nesting bounded), checked against
    :data:`TRACE_SCHEMA` and, when it carries one, its integrity checksum.  Raises
    TraceError (one line naming the file and the field; "tampered" for a checksum
    mismatch)."""
    p = str(path)
    try:
        doc = read_json(path, "trace")
    except InputFileError as e:
        raise TraceError(str(e)) from None
    if not isinstance(doc, dict):
        raise TraceError(f"{p}: top level is not an ITF object")
    problem = schema_error(p, doc)
    if problem:
        raise TraceError(problem)
    want = doc["#meta"].get("integrity", {}).get("sha256")
    if want is not None and want != integrity_digest(doc):
        raise TraceError(
            f"{p}: tampered: checksum mismatch (#meta.integrity): the file was "
            f"edited after daxcheck wrote it (to replay its actions on another "
            f"design, pass --design D to replay the untouched file)"
        )
    return doc


def read_itf(path, designs=None) -> tuple[Trace, DaxModel, dict]:
    """Load an ITF trace written by daxcheck.

    Returns ``(trace, model, doc)`` where ``trace.states`` are the *recorded* states and
    ``trace.actions`` the recorded actions (resolved against the design's model at the
    recorded bounds, with exactly the recorded argument values and types);
    ``trace.verified`` says whether the file carried an integrity checksum (a file without
    one is an older daxcheck's or was stripped of it: see :mod:`daxcheck.checker.replay`).
    ``designs`` is the registry to resolve the design name in (default: the shipped
    registry).  Raises TraceError naming the file and the offending field, or "tampered"
    when the checksum does not match.
    """
    designs = DESIGNS if designs is None else designs
    p = str(path)
    doc = load_itf_document(path)
    meta = doc["#meta"]
    load_recorded_user_files(p, meta, designs)
    name = meta["design"]
    if name not in designs:
        raise TraceError(
            f"{p}: field #meta.design names unknown design {_short(name)} "
            f"(known: {', '.join(designs)})"
        )
    try:
        bounds = Bounds(**meta["bounds"]).validate()
    except (TypeError, BoundsError) as e:
        raise TraceError(f"{p}: field #meta.bounds is invalid: {e}") from None
    model = DaxModel(guard_design(designs[name]), bounds)
    states_doc = doc["states"]
    if doc["vars"] != [f[0] for f in model.L.fields]:
        raise TraceError(f"{p}: field vars does not match this version's state fields")
    depth = meta.get("depth")
    if depth is not None and depth != len(states_doc) - 1:
        raise TraceError(
            f"{p}: field #meta.depth is {depth} but the file holds {len(states_doc) - 1} steps"
        )
    actions, states = [], []
    for i, rec in enumerate(states_doc):
        m = rec["#meta"]
        if m.get("index", i) != i:
            raise TraceError(f"{p}: field states[{i}].#meta.index is {m['index']}, not {i}")
        try:
            states.append(state_from_itf(model.L, rec))
        except ValueError as e:
            raise TraceError(f"{p}: field states[{i}].{e}") from None
        if i == 0:
            continue
        if "action" not in m or "args" not in m:
            raise TraceError(f"{p}: field states[{i}].#meta.action/args is missing")
        actions.append(_action(p, i, model, m["action"], m["args"]))
    prop = meta.get("property")
    extra = {k: v for k, v in meta.items() if k in ("engine", "command")}
    return (
        Trace(name, prop, bounds, actions, states, extra, verified="integrity" in meta),
        model,
        doc,
    )


def _action(p: str, i: int, model: DaxModel, name: str, args: dict):
    """The model's action recorded at ``states[i]``: exactly these arguments, with these
    types (``proc: 0.0`` or ``sync: 1`` is not ``proc: 0``, ``sync: true``)."""
    try:
        a = model.action_from_args(name, args)
        canon = model.actions[model.index[a]]
    except ActionError as e:
        raise TraceError(f"{p}: field states[{i}].#meta: {e}") from None
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise TraceError(
            f"{p}: field states[{i}].#meta.args: {_short(args, 120)} are not "
            f"arguments of {name}: {e}"
        ) from None
    if canonical_json(canon.args()) != canonical_json(args):
        raise TraceError(
            f"{p}: field states[{i}].#meta.args: {_short(args, 120)} are not "
            f"the arguments of {canon.describe()} (a value or type differs)"
        )
    return canon
