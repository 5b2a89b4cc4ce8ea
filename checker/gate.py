"""The CI gate: computed verdicts compared exactly with a verdict manifest.

A manifest (like tlaplus/Examples' ``manifest.json``) pins, per design, the bounds it is
explored at and the number of distinct states, and per design x property the verdict, the
shortest counterexample depth (or the depth covered by a "holds") and the counterexample file
that witnesses a violation.  :func:`run_gate` recomputes everything with the explicit engine
and returns every difference; a gate passes exactly when there is none.  Differences include:
a verdict, depth or state count that moved; a design whose computed violations differ from
its ``expect_violated``; a design or property registered but not in the manifest (for the
shipped manifest) or listed but gone; a counterexample file that is missing, no longer
reproduces on the spec or on pmem bytes, or is no longer the shortest trace the explorer finds;
a counterexample file in the manifest's folder that no entry names.

The shipped manifest is ``counterexamples/manifest.json`` beside the shipped counterexamples;
``daxcheck gate --update`` rewrites it (and the counterexample files) after a deliberate change.
This module imports no ``rich``; :mod:`daxcheck.checker.cli` prints the differences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from daxcheck.fileio import InputFileError, atomic_write, read_json
from daxcheck.properties import PropertyFileError, load_properties_file
from daxcheck.supervisor import phase
from daxcheck.userfile import GIVEN, LOADED, file_sha256

from .concrete.executor import DURABILITY_PROPS, FINAL_CHECKS, RefinementError, replay_concrete
from .engine import Budget
from .replay import replay_spec
from .results import FAILURES_DIR, HOLDS, INCOMPLETE, VIOLATED  # noqa: F401 (re-exported)
from .runner import InputError, load_designs_file, make_model, run_check, save_traces
from .trace import (
    DesignChanged,
    TraceError,
    file_name_for,
    json_path,
    load_itf_document,
    recorded_path,
    user_files_of,
)

MANIFEST_FORMAT = "daxcheck-manifest"
MANIFEST_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "counterexamples"
"""The shipped counterexamples folder (the repository's ``counterexamples/``)."""
DEFAULT_MANIFEST = SHIPPED_DIR / "manifest.json"
"""The shipped manifest, gating every shipped design against every shipped property."""

_VERDICT_SCHEMA = {
    "type": "object",
    "required": ["verdict", "depth"],
    "additionalProperties": False,
    "properties": {
        "verdict": {"enum": [HOLDS, VIOLATED, INCOMPLETE]},
        "depth": {"type": "integer", "minimum": 0},
        "complete": {"type": "boolean"},
        "counterexample": {"type": "string", "pattern": r"^[^/\\]+\.itf\.json$"},
    },
}
MANIFEST_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "version", "properties", "designs"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": MANIFEST_FORMAT},
        "version": {"const": MANIFEST_VERSION},
        "engine": {"const": "explicit"},
        "properties": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
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
        "designs": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["bounds", "states", "verdicts"],
                "additionalProperties": False,
                "properties": {
                    "bounds": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0},
                    },
                    "states": {"type": "integer", "minimum": 0},
                    "verdicts": {"type": "object", "additionalProperties": _VERDICT_SCHEMA},
                },
            },
        },
    },
}
"""JSON Schema of a manifest file (draft 2020-12), checked before a manifest is used."""


class ManifestError(ValueError):
    """A manifest file is missing, not JSON, or does not match :data:`MANIFEST_SCHEMA`; the
    message names the file and the offending field."""


@dataclass(frozen=True)
class Difference:
    """One way the computation disagrees with the manifest.

    design: design name; prop: property name or None (design-level); what: the aspect
    ("verdict", "depth", "states", "bounds", "expect_violated", "design", "property",
    "counterexample"); manifest / computed: the two sides, as short strings.
    """

    design: str
    prop: str | None
    what: str
    manifest: str
    computed: str

    def line(self) -> str:
        """One line for logs: ``design property: what manifest -> computed``."""
        where = self.design + (f" {self.prop}" if self.prop else "")
        return f"{where}: {self.what}: manifest {self.manifest}, computed {self.computed}"


@dataclass
class GateResult:
    """The outcome of a gate run: ``differences`` (empty = pass), the computed ``checks``
    (:class:`~daxcheck.checker.runner.Check` per design), the ``manifest`` dict compared
    against, and ``replayed``: the counterexample files replayed, as (file name, status)."""

    manifest_path: Path
    manifest: dict
    checks: list
    differences: list = field(default_factory=list)
    replayed: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


def load_manifest(path) -> dict:
    """Read and validate a manifest.  Raises ManifestError (missing file, invalid JSON,
    schema violation naming the JSON path)."""
    import jsonschema

    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise ManifestError(
            f"{path}: no such manifest (create one with daxcheck gate --update {path})"
        )
    try:
        doc = read_json(p, "manifest")
    except InputFileError as e:
        raise ManifestError(str(e)) from None
    err = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(MANIFEST_SCHEMA).iter_errors(doc)
    )
    if err is not None:
        where = json_path(err.absolute_path)
        msg = " ".join(err.message.split())
        raise ManifestError(f"{path}: field {where}: {msg[:200]}")
    return doc


def manifest_user_files(checks, prop_names, folder) -> list[dict]:
    """The user files the designs of ``checks`` and the properties ``prop_names`` need, as
    manifest ``user_files`` entries ``{"kind", "path" (relative to ``folder``, the
    manifest's), "sha256"}`` (:func:`~daxcheck.checker.trace.user_files_of`)."""
    out = []
    for c in checks:
        for p in list(prop_names) or [None]:
            for e in user_files_of(c.result.design, p, c.model, folder):
                if e not in out:
                    out.append(e)
    return out


def load_manifest_user_files(manifest: dict, path) -> list[str]:
    """Load the user files the manifest at ``path`` records (``user_files``, relative to its
    folder), except the kinds given on the command line (which take precedence:
    :data:`daxcheck.userfile.GIVEN`) and files whose contents are loaded already.  Returns
    notes, one line each, for a file that changed since the manifest was written (it is
    loaded as it is now: the gate recomputes its verdicts).  Raises ManifestError naming
    the field for a file that no longer exists or fails to load."""
    given = set(GIVEN.values())
    notes = []
    for i, e in enumerate(manifest.get("user_files", [])):
        if e["kind"] in given or any(r.sha256 == e["sha256"] for r in LOADED.values()):
            continue
        f = recorded_path(e["path"], Path(path).parent)
        flag = "--" + e["kind"]
        where = f"{path}: field user_files[{i}]"
        try:
            digest = file_sha256(f)
        except (OSError, ValueError):
            raise ManifestError(
                f"{where}: {f} no longer exists (moved? pass {flag} FILE)"
            ) from None
        if digest != e["sha256"]:
            notes.append(f"{e['path']} changed since {path} was written: gated as it is now")
        try:
            if e["kind"] == "designs":
                load_designs_file(f)
            else:
                load_properties_file(f)
        except (InputError, PropertyFileError) as err:
            raise ManifestError(f"{where}: {err}") from None
    return notes


def _verdict_entry(v, trace_file: str | None) -> dict:
    e = {"verdict": v.status, "depth": v.depth}
    if v.status == HOLDS:
        e["complete"] = bool(v.complete)
    if v.status == VIOLATED and trace_file:
        e["counterexample"] = trace_file
    return e


def manifest_of(checks, prop_names) -> dict:
    """The manifest a gate run computed: every design of ``checks`` with its bounds, state
    count and per-property verdict entries (counterexample file names by
    :func:`~daxcheck.checker.trace.file_name_for`)."""
    designs = {}
    for c in checks:
        r = c.result
        designs[r.design] = {
            "bounds": dict(r.bounds),
            "states": r.stats.states,
            "verdicts": {
                p: _verdict_entry(r.verdicts[p], file_name_for(r.design, p))
                for p in prop_names
                if p in r.verdicts
            },
        }
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "engine": "explicit",
        "properties": list(prop_names),
        "designs": dict(sorted(designs.items())),
    }


def _show(e: dict | None) -> str:
    if e is None:
        return "(none)"
    if e["verdict"] == VIOLATED:
        return f"violated@{e['depth']}"
    if e["verdict"] == HOLDS:
        return f"holds{'*' if e.get('complete') else ''} to depth {e['depth']}"
    return f"incomplete at depth {e['depth']}"


def compare(manifest: dict, computed: dict, checks, require_all: dict | None = None) -> list:
    """Differences between ``manifest`` and the ``computed`` manifest (same shape, from
    :func:`manifest_of`) plus each design's ``expect_violated``.

    ``checks`` give the designs (for ``expect_violated``); ``require_all``: for the shipped
    manifest, ``{"designs": names, "properties": names}`` that must all be listed (a shipped
    design or property missing from it is ungated, hence a difference).
    """
    out = []
    want_props, got_props = list(manifest["properties"]), list(computed["properties"])
    for p in want_props:
        if p not in got_props:
            out.append(Difference("*", p, "property", "listed", "not registered"))
    for name, want in manifest["designs"].items():
        got = computed["designs"].get(name)
        if got is None:
            out.append(Difference(name, None, "design", "listed", "not registered"))
            continue
        if want["bounds"] != got["bounds"]:
            out.append(
                Difference(
                    name, None, "bounds", _fmt_bounds(want["bounds"]), _fmt_bounds(got["bounds"])
                )
            )
        if want["states"] != got["states"]:
            out.append(
                Difference(name, None, "states", f"{want['states']:,}", f"{got['states']:,}")
            )
        for p in want_props:
            if p not in got_props:
                continue
            w, g = want["verdicts"].get(p), got["verdicts"].get(p)
            if (
                w is None
                or g is None
                or (w["verdict"], w.get("complete", False))
                != (g["verdict"], g.get("complete", False))
            ):
                out.append(Difference(name, p, "verdict", _show(w), _show(g)))
            elif w["depth"] != g["depth"]:
                what = "shortest counterexample depth" if g["verdict"] == VIOLATED else "depth"
                out.append(Difference(name, p, what, str(w["depth"]), str(g["depth"])))
            elif w.get("counterexample") != g.get("counterexample"):
                out.append(
                    Difference(
                        name,
                        p,
                        "counterexample",
                        str(w.get("counterexample")),
                        str(g.get("counterexample")),
                    )
                )
    out += expect_differences(
        [c for c in checks if c.result.design in manifest["designs"]], got_props
    )
    if require_all:
        for d in require_all.get("designs", ()):
            if d not in manifest["designs"]:
                out.append(Difference(d, None, "design", "not listed (ungated)", "registered"))
        for p in require_all.get("properties", ()):
            if p not in want_props:
                out.append(Difference("*", p, "property", "not listed (ungated)", "registered"))
    return out


def expect_differences(checks, prop_names) -> list:
    """A :class:`Difference` per design of ``checks`` whose computed violations (among
    ``prop_names``) differ from its ``expect_violated`` in either direction, or that has an
    incomplete verdict (nothing to compare); the computed side names what is unexpected and
    what was not found."""
    out = []
    for c in checks:
        name = c.result.design
        got = {p for p, v in c.result.verdicts.items() if v.status == VIOLATED}
        want = set(c.model.design.expect_violated) & set(prop_names)
        open_ = sorted(p for p, v in c.result.verdicts.items() if v.status == INCOMPLETE)
        if open_:
            out.append(
                Difference(
                    name,
                    None,
                    "expect_violated",
                    _fmt_set(want),
                    f"incomplete for {', '.join(open_)}",
                )
            )
        extra, missing = got - want, want - got - set(open_)
        if extra or missing:
            why = "; ".join(
                x
                for x in (
                    extra and f"unexpected violation of {', '.join(sorted(extra))}",
                    missing and f"expected violation of {', '.join(sorted(missing))} not found",
                )
                if x
            )
            out.append(
                Difference(name, None, "expect_violated", _fmt_set(want), f"{_fmt_set(got)}: {why}")
            )
    return out


def _fmt_set(s) -> str:
    return "{" + ", ".join(sorted(s)) + "}"


def _fmt_bounds(b: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in b.items())


def check_counterexamples(
    manifest: dict, folder: Path, checks, crash_states=256, *, scan_folder=True
) -> tuple:
    """Replay every counterexample file the manifest names (on the spec, then byte-level on
    a pmem buffer with up to ``crash_states`` crash images per crash) and compare it with the
    shortest trace the explorer computed now.  Returns ``(differences, replayed)`` where
    ``replayed`` is ``[(file name, status)]``.  With ``scan_folder``, files in ``folder`` that
    no entry names are differences too (a stale witness nobody gates)."""
    by_design = {c.result.design: c for c in checks}
    out, replayed, named = [], [], set()
    for name, entry in manifest["designs"].items():
        for p, e in entry["verdicts"].items():
            if e["verdict"] != VIOLATED:
                continue
            f = e.get("counterexample")
            if f is None:
                out.append(Difference(name, p, "counterexample", "no file named", "-"))
                continue
            named.add(f)
            path = folder / f
            if not path.is_file():
                out.append(Difference(name, p, "counterexample", f, "file missing"))
                replayed.append((f, "missing"))
                continue
            status, problem = check_counterexample(path, name, p, by_design.get(name), crash_states)
            if problem:
                out.append(Difference(name, p, "counterexample", f, problem))
            replayed.append((f, status))
    if scan_folder and folder.is_dir():
        for extra in sorted(x.name for x in folder.glob("*.itf.json")):
            if extra not in named:
                out.append(Difference("*", None, "counterexample", "not listed", extra))
    return out, replayed


def check_counterexample(path: Path, name: str, p: str, check, crash_states: int) -> tuple:
    """Replay the counterexample file ``path`` of design ``name`` and property ``p`` on the
    spec and byte-level on pmem, and compare it with the shortest trace of ``check`` (the
    design's :class:`~.runner.Check` computed now, or None).  Returns ``(status, problem)``:
    status "reproduces", "fails" or "unreadable"; problem None or one line."""
    try:
        r = replay_spec(path)
    except DesignChanged as e:
        return "fails", ("design changed since this trace: settings " + ", ".join(e.settings))
    except TraceError as e:
        return "unreadable", f"unreadable: {e}"
    problem = None
    if r.model.design.name != name or r.prop != p:
        problem = f"records {r.model.design.name} {r.prop}"
    elif r.disabled_at is not None:
        problem = f"step {r.disabled_at} is no longer enabled"
    elif r.divergence:
        problem = f"the spec now computes different states ({r.divergence})"
    elif not r.reproduced:
        problem = f"{p} holds after the last step"
    else:
        v = check.result.verdicts.get(p) if check else None
        if v is not None and v.status == VIOLATED:
            now = [check.model.actions[i] for i, _ in v.trace[1:]]
            if now != r.trace.actions:
                problem = (
                    f"not the shortest trace found now ({len(r.trace.actions)} "
                    f"steps recorded, {len(now)} computed, or other actions)"
                )
    if problem is None:
        try:
            rep = replay_concrete(r.model, r.trace.actions, prop=p, crash_states=crash_states)
        except RefinementError as e:
            problem = f"byte-level replay disagrees with the spec: {e}"
        else:
            if not rep.reproduced and byte_checked(p):
                problem = "does not reproduce byte-level on pmem"
    return ("fails", problem) if problem else ("reproduces", None)


def byte_checked(prop: str) -> bool:
    """Whether property ``prop`` has a byte-level check on pmem (a final-state check or a
    crash-image check); a user's invariant has none, so its counterexample is gated by
    the spec replay and the refinement check alone."""
    return prop in FINAL_CHECKS or prop in DURABILITY_PROPS


def compute(names, designs, props, budget=None, progress=None) -> list:
    """Explore each design of ``names`` (resolved in the registry ``designs``) at its
    default bounds with the explicit engine, checking the Property list ``props``.
    ``progress(design_name)`` returns an explorer progress callback (with an optional
    ``close()``) or None.  Returns one :class:`~daxcheck.checker.runner.Check` per design."""
    checks = []
    for name in names:
        m = make_model(designs[name], {})
        cb = progress(name) if progress else None
        try:
            checks.append(
                run_check(
                    m, props, "explicit", budget or Budget(), cb, command="daxcheck gate --update"
                )
            )
        finally:
            if cb is not None and hasattr(cb, "close"):
                cb.close()
    return checks


def run_gate(
    manifest_path,
    designs,
    props,
    only=None,
    require_all=None,
    budget=None,
    progress=None,
    *,
    replay=True,
) -> GateResult:
    """Recompute the verdicts of the manifest's designs and compare them with it.

    ``designs``: the registry (name -> Design); ``props``: registered properties (name ->
    Property); ``only``: gate just these design names (each must be in the manifest);
    ``require_all``: ``{"designs": [...], "properties": [...]}`` that must be listed (the
    shipped manifest must cover every shipped design and property).  Every counterexample
    file the gated entries name is replayed unless ``replay`` is False.  Raises
    ManifestError for a missing or malformed manifest.
    """
    path = Path(manifest_path)
    manifest = load_manifest(path)
    if only:
        missing = [n for n in only if n not in manifest["designs"]]
        manifest = {
            **manifest,
            "designs": {n: manifest["designs"][n] for n in only if n in manifest["designs"]},
        }
        require_all = None
    names = [p for p in manifest["properties"] if p in props]
    checks = compute(
        [n for n in manifest["designs"] if n in designs],
        designs,
        [props[p] for p in names],
        budget,
        progress,
    )
    diffs = compare(manifest, manifest_of(checks, names), checks, require_all)
    if only:
        diffs += [Difference(n, None, "design", "not listed", "asked for") for n in missing]
    replayed = []
    if replay:
        phase("replaying counterexamples")
        d2, replayed = check_counterexamples(manifest, path.parent, checks, scan_folder=not only)
        diffs += d2
    return GateResult(path, manifest, checks, diffs, replayed)


def write_failures(result: GateResult, folder) -> tuple[dict, list]:
    """Write the traces behind a failed gate's differences to ``folder`` (created): for each
    design x property with a difference (or a design whose unexpected violations differ
    from ``expect_violated``), the counterexample computed now when it is violated, else a
    copy of the manifest's counterexample file that no longer reproduces.  An existing file
    is replaced only when it is a trace daxcheck wrote (its integrity checksum intact).
    Returns ``(written, problems)``: ``{(design, property): path}`` and one-line messages
    for files that could not be written."""
    folder = Path(folder)
    by = {c.result.design: c for c in result.checks}
    wanted = []
    for d in result.differences:
        c = by.get(d.design)
        if d.prop is not None and d.design != "*":
            wanted.append((d.design, d.prop))
        elif d.what == "expect_violated" and c is not None:
            exp = set(c.model.design.expect_violated)
            wanted += [
                (d.design, p)
                for p, v in c.result.verdicts.items()
                if v.status == VIOLATED and p not in exp
            ]
    written, problems = {}, []
    for design, prop in dict.fromkeys(wanted):
        c = by.get(design)
        trace = c.traces.get(prop) if c is not None else None
        entry = result.manifest["designs"].get(design, {}).get("verdicts", {}).get(prop, {})
        old = (
            result.manifest_path.parent / entry["counterexample"]
            if entry.get("counterexample")
            else None
        )
        if trace is None and (old is None or not old.is_file()):
            continue
        dest = folder / file_name_for(design, prop)
        ours = True
        if dest.exists():
            try:
                ours = load_itf_document(dest)["#meta"].get("integrity") is not None
            except TraceError:
                ours = False
        if not ours:
            problems.append(f"{dest} exists and is not a trace daxcheck wrote: not replaced")
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if trace is not None:
                trace.write(c.model, dest, force=True)
            else:
                atomic_write(dest, old.read_text())
        except (OSError, FileExistsError, ValueError) as e:
            problems.append(f"{dest}: cannot write: {e}")
            continue
        written[(design, prop)] = str(dest)
    return written, problems


def update_manifest(manifest_path, checks, prop_names, old: dict | None = None) -> list:
    """Rewrite the manifest at ``manifest_path`` from ``checks`` and write each violation's
    counterexample beside it (replacing what was there: ``--update`` is the deliberate ask).
    Entries of ``old`` (the previous manifest) for designs not in ``checks`` are kept as they
    were; files the old entries of the recomputed designs named that no longer witness a
    violation are removed; files no entry ever named are left alone.  Returns
    ``[(path, status)]`` for what changed."""
    path = Path(manifest_path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    doc = manifest_of(checks, prop_names)
    files = manifest_user_files(checks, prop_names, folder)
    if old:
        kept = {n: e for n, e in old["designs"].items() if n not in doc["designs"]}
        doc["designs"] = dict(sorted({**kept, **doc["designs"]}.items()))
        if kept:  # the designs not recomputed may need the files recorded before
            files += [
                e for e in old.get("user_files", []) if e["path"] not in {f["path"] for f in files}
            ]
    if files:
        doc["user_files"] = files
    changed = []
    for c in checks:
        for p, status in save_traces(c, folder, force=True):
            if status != "unchanged":
                changed.append((p, status))
    keep = {
        e.get("counterexample") for d in doc["designs"].values() for e in d["verdicts"].values()
    }
    for c in checks:
        for e in (
            (old or {}).get("designs", {}).get(c.result.design, {}).get("verdicts", {}).values()
        ):
            f = e.get("counterexample")
            if f and f not in keep and (folder / f).is_file():
                (folder / f).unlink()
                changed.append((str(folder / f), "removed"))
    atomic_write(path, json.dumps(doc, indent=1) + "\n")
    changed.append((str(path), "written"))
    return changed
