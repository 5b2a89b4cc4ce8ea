"""Machine-readable results of ``check``, ``prove`` and ``gate``: JSON, JUnit XML, Markdown.

Every command first turns what it computed into :class:`Row` values, one per design x
property, then writes any of:

* ``--json FILE``: ``{"format": "daxcheck-results", "version": 1, "command", "tool",
  "exit_code", "results": [row...], "differences": [...]}`` (:data:`RESULTS_SCHEMA`, a JSON
  Schema checked by the tests);
* ``--junit FILE``: JUnit XML, one ``<testsuite>`` per design and one ``<testcase>`` per
  property (``classname`` the design, ``name`` the property); a violation is a
  ``<failure>`` whose message is the trace summary, an incomplete verdict or an unknown proof
  an ``<error>``; for the gate and ``check --expect``, a testcase fails exactly when a
  difference from the manifest or the design's ``expect_violated`` concerns it (an expected
  violation passes, an unexpected one and an expected one not found fail; design-level
  differences go to a "(design)" testcase, manifest-level ones to a "(manifest)" suite), so
  JUnit, JSON and the exit code agree; a testcase with a trace names it in a
  ``<property name="trace">``, and a passing violation carries it in ``<system-out>``;
* ``--summary FILE``: a Markdown table (designs x properties) for a PR comment.

A file that exists and was not written by daxcheck is never overwritten without ``--force``.
This module imports no ``rich``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from daxcheck import __version__
from daxcheck.fileio import InputFileError, atomic_write, read_head
from daxcheck.supervisor import is_worker

from .results import HOLDS, INCOMPLETE, NOT_FOUND, VIOLATED, fmt_item, fmt_items

RESULTS_FORMAT = "daxcheck-results"
_ROW_SCHEMA = {
    "type": "object",
    "required": ["design", "property", "verdict", "depth", "states", "seconds", "trace"],
    "additionalProperties": False,
    "properties": {
        "design": {"type": "string"},
        "property": {"type": "string"},
        "verdict": {
            "enum": [
                HOLDS,
                VIOLATED,
                INCOMPLETE,
                NOT_FOUND,
                "proved",
                "refuted",
                "not inductive",
                "unknown",
            ]
        },
        "depth": {"type": ["integer", "null"], "minimum": 0},
        "complete": {"type": "boolean"},
        "vacuous": {"type": ["string", "null"]},
        "states": {"type": ["integer", "null"], "minimum": 0},
        "seconds": {"type": "number", "minimum": 0},
        "trace": {"type": ["string", "null"]},
        "summary": {"type": ["string", "null"]},
        "items": {"type": "array", "items": {"type": "string"}},
        "engine": {"type": "string"},
        "bounds": {"type": "object", "additionalProperties": {"type": "integer"}},
        "difference": {"type": ["string", "null"]},
        "gated": {"type": "boolean"},
        "expected": {"type": ["boolean", "null"]},
    },
}
RESULTS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["format", "version", "command", "tool", "exit_code", "results"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": RESULTS_FORMAT},
        "version": {"const": 1},
        "command": {"type": "string"},
        "tool": {"type": "string"},
        "exit_code": {"type": "integer"},
        "results": {"type": "array", "items": _ROW_SCHEMA},
        "differences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["design", "property", "what", "manifest", "computed"],
                "properties": {
                    "design": {"type": "string"},
                    "property": {"type": ["string", "null"]},
                    "what": {"type": "string"},
                    "manifest": {"type": "string"},
                    "computed": {"type": "string"},
                },
            },
        },
    },
}
"""JSON Schema (draft 2020-12) of a ``--json`` file."""

_JUNIT_SUITES = "daxcheck"
_MD_MARK = "<!-- daxcheck summary -->"


class OutputError(ValueError):
    """An output file cannot be written (exists and is not daxcheck's, or an OS error);
    one-line message naming it."""


@dataclass
class Row:
    """One design x property result.

    verdict: holds / violated / incomplete (``check``, ``gate``) or proved / refuted / not
    inductive / unknown (``prove``); depth: shortest counterexample length (violated), depth
    covered (holds, incomplete) or induction depth k (prove); states: distinct states of the
    design's exploration (None for Z3); seconds: the design's run time (shared by its
    properties); trace: the counterexample file written, or None; summary: one line, the
    violated property and its steps; difference: the gate's differences for this entry."""

    design: str
    property: str
    verdict: str
    depth: int | None
    states: int | None
    seconds: float
    trace: str | None = None
    summary: str | None = None
    complete: bool = False
    items: list = field(default_factory=list)
    engine: str = "explicit"
    bounds: dict = field(default_factory=dict)
    difference: str | None = None
    gated: bool = False
    expected: bool | None = None
    """``check --expect``: whether the design declares this property violated
    (``expect_violated``); None otherwise."""
    vacuous: str | None = None
    """For a "holds": why it is vacuous (the scope the property needs, or its antecedent
    never fired: :attr:`~daxcheck.checker.results.Verdict.vacuous`); None otherwise."""

    @property
    def failed(self) -> bool:
        """A JUnit failure: a violation (or refutation); for the gate and ``check --expect``
        (``gated``), exactly a difference from the manifest or the expectation (a pinned or
        expected violation passes, a missing one fails)."""
        if self.gated:
            return self.difference is not None
        return self.verdict in (VIOLATED, "refuted")

    @property
    def errored(self) -> bool:
        """A JUnit error: no verdict (budget, solver unknown, proof not inductive)."""
        return not self.gated and self.verdict in (INCOMPLETE, "unknown", "not inductive")


def trace_summary(prop: str, depth: int, actions, items=()) -> str:
    """``prop violated at depth N (at a[1]): step 1 -> step 2 -> ...`` (actions described
    with argument names); ``items``: the failing items, as labels (:func:`fmt_items`) or
    raw (then labelled by shape)."""
    where = (
        f" (at {', '.join(i if isinstance(i, str) else fmt_item(i) for i in items)})"
        if items
        else ""
    )
    return f"{prop} violated at depth {depth}{where}: " + " -> ".join(a.describe() for a in actions)


def rows_of_checks(checks, prop_names, written=None, engine="explicit") -> list[Row]:
    """Rows of ``check``/``gate`` results (:class:`~daxcheck.checker.runner.Check` list), for
    ``prop_names`` in order; ``written``: ``{(design, property): trace file path}``."""
    written = written or {}
    out = []
    for c in checks:
        r = c.result
        for p in prop_names:
            v = r.verdicts.get(p)
            if v is None:
                continue
            t = c.traces.get(p)
            items = fmt_items(p, v.items, c.model.L)
            out.append(
                Row(
                    r.design,
                    p,
                    v.status,
                    v.depth,
                    r.stats.states or None,
                    round(r.stats.seconds, 3),
                    written.get((r.design, p)),
                    trace_summary(p, t.depth, t.actions, items) if t else None,
                    bool(v.complete),
                    items,
                    engine,
                    dict(r.bounds),
                    vacuous=v.vacuous,
                )
            )
    return out


def rows_of_proofs(runs, written=None) -> list[Row]:
    """Rows of ``prove`` results: ``runs`` is ``[(model, ProofRun, traces)]`` with
    ``traces`` ``{property: Trace}`` of the refuted ones."""
    written = written or {}
    out = []
    for m, run, traces in runs:
        for r in run.results:
            t = traces.get(r.prop)
            out.append(
                Row(
                    r.design,
                    r.prop,
                    r.status,
                    r.k,
                    None,
                    round(r.seconds, 3),
                    written.get((r.design, r.prop)),
                    trace_summary(r.prop, t.depth, t.actions) if t else (r.reason or None),
                    engine="z3 k-induction",
                    bounds=m.bounds.as_dict(),
                )
            )
    return out


def attach_differences(rows, differences) -> list[Row]:
    """The gate's rows with each :class:`~daxcheck.checker.gate.Difference` attached to its
    design x property row; design-level ones become a "(design)" row, manifest-level ones
    (design "*") a "(manifest)" row."""
    for r in rows:
        r.gated = True
    by = {(r.design, r.property): r for r in rows}
    out = list(rows)
    for d in differences:
        key = (d.design, d.prop or "(design)") if d.design != "*" else ("(manifest)", d.prop or "-")
        row = by.get(key)
        if row is None:
            row = by[key] = Row(key[0], key[1], HOLDS, None, None, 0.0, engine="gate", gated=True)
            out.append(row)
        row.difference = "; ".join(x for x in (row.difference, d.line()) if x)
    designs = {r.design for r in rows}
    for name in sorted(designs):  # a passing "(design)" testcase per design
        if (name, "(design)") not in by:
            out.append(Row(name, "(design)", HOLDS, None, None, 0.0, engine="gate", gated=True))
    return out


def attach_expectations(rows, checks) -> list[Row]:
    """``check --expect``: each row of ``checks`` (:class:`~daxcheck.checker.runner.Check`
    list) compared with its design's ``expect_violated``, as
    :func:`~daxcheck.checker.gate.expect_differences` does for the exit code: an expected
    violation passes, an unexpected one, an expected one not found and an incomplete
    verdict are differences (JUnit failures).  Returns ``rows``, marked ``gated``."""
    exp = {c.result.design: set(c.model.design.expect_violated) for c in checks}
    for r in rows:
        r.gated = True
        r.expected = r.property in exp.get(r.design, ())
        if r.verdict == VIOLATED and not r.expected:
            r.difference = f"{r.design} {r.property}: unexpected violation"
        elif r.verdict == INCOMPLETE:
            r.difference = f"{r.design} {r.property}: incomplete (nothing to compare)"
        elif r.expected and r.verdict != VIOLATED:
            r.difference = f"{r.design} {r.property}: expected violation not found ({r.verdict})"
    return rows


def _check_writable(path: Path, marker: str, *, force: bool) -> None:
    if path.is_dir():
        raise OutputError(f"{path} is a directory")
    try:
        head = read_head(path)  # None: no such file; refused: a FIFO, a device
    except InputFileError as e:
        raise OutputError(str(e)) from None
    if head is not None and not force and marker not in head:
        raise OutputError(
            f"{path} exists and was not written by daxcheck (use --force to overwrite it)"
        )


def _write(path, text: str, marker: str, *, force: bool) -> None:
    p = Path(path)
    if not is_worker():  # a worker checked it before any user code ran (check_outputs)
        _check_writable(p, marker, force=force)
    try:
        atomic_write(p, text)
    except InputFileError as e:
        raise OutputError(str(e)) from None
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror or e}") from None


def json_document(rows, command: str, exit_code: int, differences=None) -> dict:
    """The ``--json`` document (see :data:`RESULTS_SCHEMA`)."""
    doc = {
        "format": RESULTS_FORMAT,
        "version": 1,
        "command": command,
        "tool": f"daxcheck {__version__}",
        "exit_code": exit_code,
        "results": [asdict(r) for r in rows],
    }
    if differences is not None:
        doc["differences"] = [
            {
                "design": d.design,
                "property": d.prop,
                "what": d.what,
                "manifest": d.manifest,
                "computed": d.computed,
            }
            for d in differences
        ]
    return doc


def junit_document(rows, title: str) -> ET.Element:
    """The ``--junit`` document: ``<testsuites name="daxcheck">`` with a testsuite per
    design (in order of first appearance) and a testcase per row."""
    root = ET.Element("testsuites", name=_JUNIT_SUITES)
    suites = {}
    for r in rows:
        s = suites.get(r.design)
        if s is None:
            s = suites[r.design] = ET.SubElement(root, "testsuite", name=r.design)
        tc = ET.SubElement(
            s, "testcase", classname=r.design, name=r.property, time=f"{r.seconds:.3f}"
        )
        detail = "\n".join(
            x
            for x in (
                f"{title}: {r.verdict}"
                + (f" at depth {r.depth}" if r.depth is not None else "")
                + (" (expected)" if r.expected and r.verdict == VIOLATED else ""),
                r.summary,
                r.difference and f"gate: {r.difference}",
                r.trace and f"trace: {r.trace}",
            )
            if x
        )
        if r.trace:
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="trace", value=r.trace)
        if r.failed:
            msg = r.difference or r.summary or f"{r.property} {r.verdict}"
            ET.SubElement(tc, "failure", message=msg, type=r.verdict).text = detail
        elif r.errored:
            ET.SubElement(
                tc,
                "error",
                message=f"{r.property}: {r.verdict}" + (f" ({r.summary})" if r.summary else ""),
                type=r.verdict,
            ).text = detail
        elif r.verdict == NOT_FOUND:  # random simulation proves nothing: neither pass nor fail
            ET.SubElement(tc, "skipped", message=f"{r.property}: no random walk violated it")
        elif r.verdict == VIOLATED:  # a pinned or expected violation: passes, with its trace
            ET.SubElement(tc, "system-out").text = detail
    for s in root:
        cases = list(s)
        s.set("tests", str(len(cases)))
        s.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        s.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        s.set("time", f"{max((float(c.get('time')) for c in cases), default=0.0):.3f}")
    for k in ("tests", "failures", "errors"):
        root.set(k, str(sum(int(s.get(k)) for s in root)))
    return root


_MD_CELL = {
    HOLDS: "holds",
    VIOLATED: "**violated**",
    INCOMPLETE: "incomplete",
    NOT_FOUND: "not found",
    "proved": "proved",
    "refuted": "**refuted**",
    "not inductive": "not inductive",
    "unknown": "unknown",
}


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_summary(rows, title: str, exit_code: int, differences=None) -> str:
    """The ``--summary`` Markdown: a heading with the outcome, a design x property table
    (cells "holds", "**violated** (d=N)", ...; then states and time), the counterexample
    files, and the gate's differences (if any)."""
    props, designs = [], {}
    for r in rows:
        if r.property.startswith("("):
            continue
        if r.property not in props:
            props.append(r.property)
        designs.setdefault(r.design, {})[r.property] = r
    bad = sum(1 for r in rows if r.failed)
    out = [_MD_MARK, f"### {title}: exit {exit_code}, {bad} failing of {len(rows)}", ""]
    out.append("| design | " + " | ".join(_md(p) for p in props) + " | states | time |")
    out.append("|---|" + "---|" * len(props) + "--:|--:|")
    for d, by in designs.items():
        cells = []
        for p in props:
            r = by.get(p)
            if r is None:
                cells.append("-")
                continue
            c = _MD_CELL.get(r.verdict, r.verdict)
            if r.verdict in (VIOLATED, "refuted"):
                c += f" (d={r.depth})"
            if r.difference:
                c += " ⚠ differs"
            cells.append(c)
        any_row = next(iter(by.values()))
        states = f"{any_row.states:,}" if any_row.states else "-"
        out.append(f"| {_md(d)} | " + " | ".join(cells) + f" | {states} | {any_row.seconds:.1f}s |")
    traces = [r for r in rows if r.trace]
    if traces:
        out += ["", "Counterexamples:", ""]
        out += [f"- `{_md(r.trace)}`: {_md(r.summary or '')}" for r in traces]
    if differences:
        out += [
            "",
            "Differences from the manifest:",
            "",
            "| design | property | what | manifest | computed |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {_md(d.design)} | {_md(d.prop or '-')} | {_md(d.what)} | {_md(d.manifest)} "
            f"| {_md(d.computed)} |"
            for d in differences
        ]
    return "\n".join(out) + "\n"


def check_outputs(args) -> None:
    """Refuse, before any work is done, the ``--json``/``--junit``/``--summary`` files of
    ``args`` that :func:`write_outputs` would refuse at the end (a directory, a FIFO, a file
    daxcheck did not write without ``--force``).  Raises OutputError."""
    force = getattr(args, "force", False)
    for name, marker in (
        ("json", f'"format": "{RESULTS_FORMAT}"'),
        ("junit", f'<testsuites name="{_JUNIT_SUITES}"'),
        ("summary", _MD_MARK),
    ):
        path = getattr(args, name, None)
        if path:
            _check_writable(Path(path), marker, force=force)


def write_outputs(
    args, rows, title: str, command: str, exit_code: int, differences=None
) -> list[str]:
    """Write the files ``args.json``, ``args.junit`` and ``args.summary`` asked for (each may
    be None) from ``rows``; ``args.force`` allows overwriting a file daxcheck did not write.
    Returns the paths written.  Raises OutputError (one line)."""
    force = getattr(args, "force", False)
    for path, marker in (
        (args.json, f'"format": "{RESULTS_FORMAT}"'),
        (args.junit, f'<testsuites name="{_JUNIT_SUITES}"'),
        (args.summary, _MD_MARK),
    ):
        if path and not is_worker():  # a supervised worker: checked before the run
            _check_writable(Path(path), marker, force=force)  # all refused before any is written
    done = []
    if args.json:
        doc = json_document(rows, command, exit_code, differences)
        _write(
            args.json,
            json.dumps(doc, indent=1) + "\n",
            f'"format": "{RESULTS_FORMAT}"',
            force=force,
        )
        done.append(args.json)
    if args.junit:
        root = junit_document(rows, title)
        ET.indent(root)
        _write(
            args.junit,
            '<?xml version="1.0" encoding="utf-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n",
            f'<testsuites name="{_JUNIT_SUITES}"',
            force=force,
        )
        done.append(args.junit)
    if args.summary:
        _write(
            args.summary,
            markdown_summary(rows, title, exit_code, differences),
            _MD_MARK,
            force=force,
        )
        done.append(args.summary)
    return done


def write_file(path, text: str, marker: str, *, force: bool = False) -> None:
    """Write ``text`` to ``path`` atomically, refusing (OutputError) to overwrite a file
    that does not contain ``marker`` (one daxcheck did not write) unless ``force``, a
    folder, a FIFO or a device."""
    _write(path, text, marker, force=force)
