"""Spec coverage: which decisions of the spec and properties the explored states decide,
and which way (issue 28; TLC's per-action and per-expression coverage, Spin's unreached
code).

:func:`measure` explores each design at its own bounds with the reference explorer (the
state set and verdicts every engine agrees on; successors memoised on read sets, which is
exact here: a transition decides the same way on every state with the same projection)
while a :class:`~.recorder.Recorder` notes each decision's outcomes.  The result, a
:class:`Coverage`, lists every decision site found in the source (:mod:`.sites`) with the
outcomes seen — both ways, one way, or never reached — plus the operations enabled and
disabled and the Design hooks called.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from daxcheck.spec.designs import hooks
from daxcheck.spec.model import DaxModel
from daxcheck.spec.ops import ACTIONS

from ..explicit.explore import explore
from .recorder import ALONE, FALSE, TRUE, Recorder
from .sites import KINDS, Site, scan, scan_file

PROJECT = Path(__file__).resolve().parents[2]
ROOTS = {"spec": PROJECT / "spec", "properties": PROJECT / "properties"}
"""The source the report covers: the project's spec and properties."""

SKIP = frozenset({"spec/vocab.py"})
"""Files whose vocabulary calls are the vocabulary itself, not decisions of the spec."""

BOTH = TRUE | FALSE
OUTCOME = {0: "never reached", TRUE: "only true", FALSE: "only false", TRUE | FALSE: "both"}


@dataclass
class Coverage:
    """What one or more explorations decided.

    ``sites``: every decision site (:class:`~.sites.Site`), ``seen[site.key]`` its outcome
    bits (missing: never reached); ``operations``: action family -> outcome bits (TRUE
    enabled somewhere, FALSE disabled somewhere); ``hooks``: hook name -> called (bool);
    ``designs``: ``[(design name, states explored, depth bound)]``.
    """

    sites: list[Site]
    seen: dict[tuple, int] = field(default_factory=dict)
    operations: dict[str, int] = field(default_factory=dict)
    hooks: dict[str, bool] = field(default_factory=dict)
    designs: list[tuple[str, int, int]] = field(default_factory=list)

    def outcome(self, site: Site) -> int:
        """The outcome bits of ``site``: TRUE, FALSE or both (0: never reached)."""
        return self.seen.get(site.key, 0) & BOTH

    def alone(self, site: Site) -> bool:
        """An And/Or operand that alone decided its call in some explored state (see
        :data:`~.recorder.ALONE`)."""
        return bool(self.seen.get(site.key, 0) & ALONE)

    def totals(self) -> dict[str, int]:
        """Counts over decisions: ``sites``, ``both``, ``one_way``, ``unreached``."""
        both = sum(self.outcome(s) == TRUE | FALSE for s in self.sites)
        unreached = sum(self.outcome(s) == 0 for s in self.sites)
        return {
            "sites": len(self.sites),
            "both": both,
            "one_way": len(self.sites) - both - unreached,
            "unreached": unreached,
        }

    def by_function(self) -> list[tuple[str, str, int, int, list[Site]]]:
        """Per enclosing function: ``(file, function, decisions, decided both ways,
        the sites not decided both ways)``, in file and source order."""
        groups: dict[tuple[str, str], list[Site]] = defaultdict(list)
        for s in self.sites:
            groups[(s.path, s.function)].append(s)
        rows = []
        for (path, fn), sites in sorted(groups.items(), key=lambda kv: kv[1][0]):
            gaps = [s for s in sites if self.outcome(s) != TRUE | FALSE]
            rows.append((path, fn, len(sites), len(sites) - len(gaps), gaps))
        return rows

    def to_json(self) -> dict:
        """A JSON-ready dict: totals, designs, operations, hooks and every site with its
        outcome (``both``, ``only true``, ``only false``, ``never reached``)."""
        return {
            "format": "daxcheck-coverage",
            "version": 1,
            "totals": self.totals(),
            "designs": [{"design": d, "states": n, "depth": k} for d, n, k in self.designs],
            "operations": {f: OUTCOME[b] for f, b in sorted(self.operations.items())},
            "hooks": dict(sorted(self.hooks.items())),
            "sites": [
                {
                    "file": s.path,
                    "line": s.line,
                    "col": s.col,
                    "kind": s.kind,
                    "operand": s.operand,
                    "function": s.function,
                    "condition": s.text,
                    "outcome": OUTCOME[self.outcome(s)],
                    **({"alone": self.alone(s)} if s.kind in ("And", "Or") else {}),
                }
                for s in self.sites
            ],
        }

    def merge(self, other: Coverage) -> None:
        """Add ``other``'s outcomes (same sites) to this one."""
        for k, b in other.seen.items():
            self.seen[k] = self.seen.get(k, 0) | b
        for k, b in other.operations.items():
            self.operations[k] = self.operations.get(k, 0) | b
        for k, c in other.hooks.items():
            self.hooks[k] = self.hooks.get(k, False) or c
        self.designs.extend(other.designs)


def source_sites(extra: dict[str, Path] | None = None) -> tuple[list[Site], dict[str, str]]:
    """The decision sites of the spec, the properties and ``extra`` files (shown name ->
    path, e.g. a user's designs file), and the map absolute path -> shown name the
    recorder needs.  Raises OSError/SyntaxError for an unreadable file."""
    files: dict[str, str] = {}
    for prefix, root in ROOTS.items():
        for f in Path(root).rglob("*.py"):
            files[str(f)] = f"{prefix}/{f.relative_to(root).as_posix()}"
    for shown, f in (extra or {}).items():
        files[str(Path(f).resolve())] = shown
    sites = [s for s in scan(ROOTS) if s.path not in SKIP]
    for shown, f in (extra or {}).items():
        sites.extend(scan_file(f, shown))
    files = {k: v for k, v in files.items() if v not in SKIP}
    return sorted(sites), files


def measure(designs, props, depth: int | None = None, extra_files=None, progress=None) -> Coverage:
    """Explore every design in ``designs`` (each at its own bounds, to ``depth`` or its
    bound) checking ``props``, recording decisions.  Returns the merged :class:`Coverage`.
    The exploration stops where the gate's does (all properties violated, or the bound).
    ``extra_files``: shown name -> path of user files whose decisions count too;
    ``progress(design name, i, n)`` before each design.
    """
    sites, files = source_sites(extra_files)
    cov = Coverage(sites)
    names = tuple(n for n, _ in hooks())
    for i, design in enumerate(designs):
        if progress is not None:
            progress(design.name, i + 1, len(designs))
        model = DaxModel(design)
        with Recorder(files, actions=dict(ACTIONS), hooks=names) as rec:
            rec.watch_design(model.design)
            result = explore(model, props, depth, batched=False, memo=True)
        one = Coverage(
            sites,
            dict(rec.decisions),
            dict(rec.operations),
            {h: h in rec.hooks_called for h in names},
            [(design.name, result.stats.states, model.bounds.depth if depth is None else depth)],
        )
        cov.merge(one)
    return cov


def html_report(cov: Coverage) -> str:
    """A self-contained HTML page: every covered file's source with each decision site's
    line marked (green: decided both ways, yellow: one way, red: never reached) and the
    outcomes in a tooltip, like coverage.py's report."""
    per_line: dict[str, dict[int, list[Site]]] = defaultdict(lambda: defaultdict(list))
    for s in cov.sites:
        per_line[s.path][s.line].append(s)
    t = cov.totals()
    parts = [
        "<!doctype html><meta charset=utf-8><title>daxcheck spec coverage</title>",
        "<style>body{font-family:sans-serif}pre{margin:0}.l{font-family:monospace;"
        "white-space:pre}.both{background:#cfc}.one{background:#ffc}.none{background:#fcc}"
        "td.n{color:#888;text-align:right;padding-right:1em}</style>",
        f"<h1>Spec coverage</h1><p>{t['both']} of {t['sites']} decisions decided both "
        f"ways, {t['one_way']} one way, {t['unreached']} never reached, over "
        f"{len(cov.designs)} design(s).</p>",
    ]
    for path in sorted(per_line):
        src = (PROJECT / path).read_text(encoding="utf-8").splitlines()
        parts.append(f"<h2 id='{html.escape(path)}'>{html.escape(path)}</h2><table>")
        for n, text in enumerate(src, 1):
            marks = per_line[path].get(n, [])
            cls = ""
            if marks:
                outs = [cov.outcome(s) for s in marks]
                cls = (
                    "both"
                    if all(o == TRUE | FALSE for o in outs)
                    else "none"
                    if all(o == 0 for o in outs)
                    else "one"
                )
            tip = html.escape(
                "; ".join(
                    f"{s.kind}[{s.operand}] {s.text}: {OUTCOME[cov.outcome(s)]}" for s in marks
                )
            )
            parts.append(
                f"<tr class='{cls}' title='{tip}'><td class=n>{n}</td>"
                f"<td class=l>{html.escape(text)}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts)


__all__ = ["Coverage", "KINDS", "measure", "source_sites", "html_report"]
