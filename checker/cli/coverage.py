"""``daxcheck coverage``: which decisions of the spec and properties the designs' explored
states decide both ways, per kernel function and operation (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS

from ..coverage import PROJECT, html_report, measure, source_sites
from ..coverage.explain import UNREACHABLE, iter_explanations
from ..coverage.recorder import FALSE, TRUE
from ..outputs import write_file
from ..results import EXIT_OK, EXIT_UNEXPECTED, InputError
from ..runner import load_user_files, pick, pick_properties
from .common import esc

WAY = {TRUE: "true", FALSE: "false"}
SHIPPED_GAPS = PROJECT / "docs" / "coverage_gaps.json"
"""The gate's coverage report with every gap explained (``coverage --explain --json``),
shown by ``coverage --gaps`` and in docs/coverage.md."""


def _user_sources(args) -> dict[str, Path]:
    return {Path(f).name: Path(f) for f in (args.designs, args.properties) if f}


def run(args, console) -> int:
    """Explore the chosen designs (default: every registered one) recording decisions;
    print the functions with gaps, the operations and hooks never exercised and a summary;
    write ``--json``/``--html``; with ``--explain`` ask Z3 about every gap.  Returns 0, or
    1 when ``--fail-under`` is given and the share of decisions decided both ways is
    lower.  Raises InputError for unknown names."""
    if args.gaps is not None:
        return _show_gaps(console, Path(args.gaps) if args.gaps else SHIPPED_GAPS)
    load_user_files(args.designs, args.properties)
    designs = pick(args.design, DESIGNS, "design")
    props = (
        pick_properties(args.property)
        if args.property
        else [*PROPERTIES.values(), *LEMMAS.values()]
    )
    extra = _user_sources(args)

    def progress(name, i, n):
        console.print(f"[dim]{i}/{n} {esc(name)}[/dim]", soft_wrap=True)

    cov = measure(designs, props, args.depth, extra, progress=None if args.quiet else progress)
    _print_table(console, cov, verbose=args.verbose)
    _print_unexercised(console, cov)
    explained = (
        _print_explanations(console, cov, designs, props, extra, args) if args.explain else None
    )
    if args.json:
        _write_json(args, cov, explained)
        console.print(f"[dim]written: {esc(args.json)}[/dim]", soft_wrap=True)
    t = cov.totals()
    pct = 100.0 * t["both"] / max(t["sites"], 1)
    console.print(
        f"{t['both']} of {t['sites']} decisions decided both ways ({pct:.1f}%), "
        f"{t['one_way']} one way, {t['unreached']} never reached, over "
        f"{len(cov.designs)} design(s) and {sum(n for _, n, _ in cov.designs):,} "
        "states",
        soft_wrap=True,
    )
    if args.html:
        write_file(args.html, html_report(cov), "daxcheck spec coverage", force=args.force)
        console.print(f"[dim]written: {esc(args.html)}[/dim]", soft_wrap=True)
    if args.fail_under is not None and pct < args.fail_under:
        console.print(f"coverage {pct:.1f}% is under --fail-under {args.fail_under:g}%")
        return EXIT_UNEXPECTED
    return EXIT_OK


def _print_table(console, cov, *, verbose: bool) -> None:
    t = Table(title="decisions by function (gaps: line kind[operand] outcome seen)")
    t.add_column("file")
    t.add_column("function")
    t.add_column("both ways", justify="right")
    t.add_column("gaps", overflow="fold")
    for path, fn, n, ok, gaps in cov.by_function():
        if not gaps and not verbose:
            continue
        shown = ", ".join(
            f"{g.line} {g.kind}[{g.operand}] "
            f"{'-' if not cov.outcome(g) else WAY.get(cov.outcome(g), '')}"
            for g in gaps
        )
        t.add_row(path, fn, f"{ok}/{n}", shown)
    console.print(t)


def _print_unexercised(console, cov) -> None:
    never_on = sorted(f for f, b in cov.operations.items() if not b & TRUE)
    never_off = sorted(f for f, b in cov.operations.items() if not b & FALSE)
    uncalled = sorted(h for h, c in cov.hooks.items() if not c)
    for label, names in (
        ("operations never enabled", never_on),
        ("operations never disabled", never_off),
        ("hooks never called", uncalled),
    ):
        if names:
            console.print(f"{label}: {', '.join(names)}", soft_wrap=True)


def _write_json(args, cov, explained) -> None:
    doc = {**cov.to_json(), **({"explanations": explained} if explained is not None else {})}
    write_file(
        args.json,
        json.dumps(doc, indent=1) + "\n",
        '"format": "daxcheck-coverage"',
        force=args.force,
    )


def _print_explanations(console, cov, designs, props, extra, args) -> list[dict]:
    """Ask Z3 about every missing outcome (the spec's first, the properties' after),
    printing each answer as soon as it is known and, with ``--json``, rewriting the file
    after each (a long run leaves what it found); returns the answers as JSON-ready dicts
    (:meth:`Explanation.to_json`)."""
    _, files = source_sites(extra)
    gaps = [(s, want) for s in cov.sites for want in (TRUE, FALSE) if not cov.outcome(s) & want]
    gaps.sort(key=lambda g: g[0].path.startswith("properties/"))
    console.print(f"asking Z3 about {len(gaps)} missing outcomes (BMC to each design's depth)...")
    out: list[dict] = []
    for e in iter_explanations(gaps, designs, props, files, args.depth, time_limit=args.time_limit):
        console.print(e.line(), markup=False, soft_wrap=True)
        out.append(e.to_json())
        if args.json:
            _write_json(args, cov, out)
    return out


def _show_gaps(console, path: Path) -> int:
    """``coverage --gaps [FILE]``: from a saved ``coverage --explain --json`` report (default:
    the gate's, :data:`SHIPPED_GAPS`), every decision not decided both ways with Z3's answer
    for each missing outcome, and the share of the reachable decisions decided both ways
    (a decision is unreachable when Z3 proved each of its missing outcomes unreachable).
    Raises InputError for a missing or foreign file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot read a coverage report ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != "daxcheck-coverage":
        raise InputError(f"{path}: not a daxcheck coverage report")
    if "explanations" not in doc:
        raise InputError(f"{path}: no explanations (write it with coverage --explain --json)")
    answers = {
        (e["file"], e["line"], e.get("col"), e["kind"], e["operand"], e["missing"]): e
        for e in doc["explanations"]
    }
    missing_of = {"only true": ("false",), "only false": ("true",)}
    unreachable = not_asked = 0
    for site in doc["sites"]:
        if site["outcome"] == "both":
            continue
        key = (site["file"], site["line"], site["col"], site["kind"], site["operand"])
        es = []
        for want in missing_of.get(site["outcome"], ("true", "false")):
            e = answers.get((*key, want)) or answers.get((*key[:2], None, *key[3:], want))
            if e is None:
                not_asked += 1
                console.print(
                    f"{site['file']}:{site['line']} {site['kind']} {site['condition']!r} "
                    f"{want}: not asked (the run stopped first)",
                    markup=False,
                    soft_wrap=True,
                )
            else:
                console.print(e["text"], markup=False, soft_wrap=True)
            es.append(e)
        unreachable += all(e is not None and e["answer"] == UNREACHABLE for e in es)
    t = doc["totals"]
    reachable = t["sites"] - unreachable
    console.print(
        f"{t['both']} of {t['sites']} decisions decided both ways; {unreachable} unreachable "
        f"the other way (Z3, or a Python shortcut); {t['both']} of {reachable} reachable "
        f"decisions ({100.0 * t['both'] / max(reachable, 1):.1f}%) decided both ways over "
        f"{len(doc['designs'])} design(s) and {sum(d['states'] for d in doc['designs']):,} states"
        + (f"; {not_asked} missing outcome(s) not asked" if not_asked else ""),
        soft_wrap=True,
    )
    return EXIT_OK
