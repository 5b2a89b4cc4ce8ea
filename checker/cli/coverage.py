"""``daxcheck coverage``: which decisions of the spec and properties the designs' explored
states decide both ways, per kernel function and operation (issue 28)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.designs import DESIGNS

from ..coverage import html_report, measure, source_sites
from ..coverage.explain import explain_gaps
from ..coverage.recorder import FALSE, TRUE
from ..outputs import write_file
from ..results import EXIT_OK, EXIT_UNEXPECTED
from ..runner import load_user_files, pick, pick_properties
from .common import esc

WAY = {TRUE: "true", FALSE: "false"}


def _user_sources(args) -> dict[str, Path]:
    return {Path(f).name: Path(f) for f in (args.designs, args.properties) if f}


def run(args, console) -> int:
    """Explore the chosen designs (default: every registered one) recording decisions;
    print the functions with gaps, the operations and hooks never exercised and a summary;
    write ``--json``/``--html``; with ``--explain`` ask Z3 about every gap.  Returns 0, or
    1 when ``--fail-under`` is given and the share of decisions decided both ways is
    lower.  Raises InputError for unknown names."""
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
    if args.explain:
        _print_explanations(console, cov, designs, props, extra, args)
    t = cov.totals()
    pct = 100.0 * t["both"] / max(t["sites"], 1)
    console.print(
        f"{t['both']} of {t['sites']} decisions decided both ways ({pct:.1f}%), "
        f"{t['one_way']} one way, {t['unreached']} never reached, over "
        f"{len(cov.designs)} design(s) and {sum(n for _, n, _ in cov.designs):,} "
        "states",
        soft_wrap=True,
    )
    if args.json:
        write_file(
            args.json,
            json.dumps(cov.to_json(), indent=1) + "\n",
            '"format": "daxcheck-coverage"',
            force=args.force,
        )
        console.print(f"[dim]written: {esc(args.json)}[/dim]", soft_wrap=True)
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


def _print_explanations(console, cov, designs, props, extra, args) -> None:
    _, files = source_sites(extra)
    gaps = [(s, want) for s in cov.sites for want in (TRUE, FALSE) if not cov.outcome(s) & want]
    console.print(f"asking Z3 about {len(gaps)} missing outcomes (BMC to each design's depth)...")
    for e in explain_gaps(gaps, designs, props, files, args.depth, time_limit=args.time_limit):
        console.print(e.line(), markup=False, soft_wrap=True)
