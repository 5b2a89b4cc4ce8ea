"""``daxcheck prove``: k-induction with Z3 (one Houdini run per design)."""

from __future__ import annotations

import sys

from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.supervisor import phase

from ..outputs import rows_of_proofs, write_outputs
from ..report import trace_table
from ..results import EXIT_BAD_INPUT, EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATION
from ..runner import (
    Check,
    check_prove_arguments,
    command_line,
    load_user_files,
    make_model,
    pick,
    run_prove,
)
from .common import esc
from .parser import BOUND_NAMES
from .runs import preflight_outputs, save


def run(args, argv, console) -> int:
    """Run ``daxcheck prove``: per design (default: every design expected to hold) one
    k-induction run over the selected properties; prints each result (proved, refuted with
    its base-case trace, unknown) and writes ``--json/--junit/--summary``.  Returns 12 when
    a property is refuted, 75 when one is unknown or the time limit ran out, else 0.
    Raises InputError on bad input (``--k`` above ``--max-k``, unknown names)."""
    preflight_outputs(args)
    check_prove_arguments(args.k, args.max_k)  # bad input before any work
    load_user_files(args.designs, args.properties)
    designs = (
        pick(args.design, DESIGNS, "design")
        if args.design
        else [d for d in DESIGNS.values() if not d.expect_violated]
    )
    props = pick(args.property, PROPERTIES, "property")
    codes = set()
    problems, runs, written = [], [], {}
    for d in designs:
        one = _prove_design(args, argv, d, props, console, codes, written)
        if one is not None:
            problems += one[1]
            runs.append(one[0])
    phase("reporting")
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    code = next((c for c in (EXIT_VIOLATION, EXIT_INCOMPLETE) if c in codes), EXIT_OK)
    write_outputs(args, rows_of_proofs(runs, written), "daxcheck prove", command_line(argv), code)
    return code


def _prove_design(args, argv, d, props, console, codes, written):
    """Prove ``props`` on design ``d`` (a limited phase); prints the results, adds their
    exit codes to ``codes``.  Returns ``((model, run, traces), save conflicts)``, or None
    when the time limit stopped it."""
    phase(f"design {d.name}", limited=True)
    m = make_model(d, {k: getattr(args, k) for k in BOUND_NAMES[1:]})
    proof = run_prove(
        m,
        props,
        k=args.k,
        max_k=args.max_k,
        lemmas=args.lemmas,
        time_limit=args.time_limit,
        command=command_line(argv),
    )
    if proof.run is None:
        console.print(
            f"[yellow]incomplete:[/yellow] {esc(d.name)}: {esc(proof.incomplete)}", soft_wrap=True
        )
        codes.add(EXIT_INCOMPLETE)
        return None
    run, traces = proof.run, proof.traces
    _print_run(m, run, props, console, codes)
    for name, t in traces.items():
        console.print(trace_table(t, m, f"{d.name}: {name} violated at depth {t.depth}"))
    problems = []
    if traces and not args.no_write:
        problems = save(Check(m, run, traces), args, console, written)
    return (m, run, traces), problems


def _print_run(m, run, props, console, codes) -> None:
    """One design's proof results: the headline, a line per property, the run's notes."""
    n = sum(r.status == "proved" for r in run.results)
    b = m.bounds
    console.print(
        f"[bold]{esc(m.design.name)}[/bold] (files={b.files} blocks={b.blocks} phys={b.phys} "
        f"tokens={b.tokens} procs={b.procs}): {n} of {len(props)} propert"
        f"{'y' if len(props) == 1 else 'ies'} proved at every depth "
        f"({run.seconds:.1f}s)",
        soft_wrap=True,
    )
    for r in run.results:
        style = {"proved": "green", "refuted": "bold red"}.get(r.status, "yellow")
        lines = r.lines(m.L)
        console.print(f"  [{style}]{esc(lines[0])}[/{style}]", soft_wrap=True)
        for line in lines[1:]:
            console.print("  " + line, markup=False)
        codes.add({"proved": EXIT_OK, "refuted": EXIT_VIOLATION}.get(r.status, EXIT_INCOMPLETE))
    for line in run.lines():
        console.print(line, markup=False)
