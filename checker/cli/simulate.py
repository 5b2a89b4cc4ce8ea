"""``daxcheck simulate``: random walks deeper than BFS reaches, violations shrunk and saved."""

from __future__ import annotations

import contextlib
import sys

from daxcheck.spec.designs import DESIGNS
from daxcheck.supervisor import phase

from ..distributed.session import ray_session
from ..outputs import rows_of_checks, write_outputs
from ..report import Progress, trace_table, verdict_tables
from ..results import EXIT_BAD_INPUT, combined_exit
from ..runner import command_line, load_user_files, make_model, pick, pick_properties, run_simulate
from .common import esc
from .parser import BOUND_NAMES
from .runs import check_distributed, preflight_outputs, save


def run(args, argv, console) -> int:
    """Run ``daxcheck simulate``: per design ``--runs`` walks of ``--depth`` steps (over
    ``--workers`` Ray tasks when N>=2); prints the shrunk counterexamples and the verdict
    tables, writes them and ``--json/--junit/--summary``; returns the exit code (0 not
    found, 12 violated, 75 stopped by ``--time-limit``, 2 a save conflict)."""
    preflight_outputs(args)
    load_user_files(args.designs, args.properties)
    designs = pick(args.design, DESIGNS, "design")
    props = pick_properties(args.property)
    cmd = command_line(argv)
    check_distributed(args)
    checks, problems, written = _walk(args, designs, props, cmd, console)
    phase("reporting")
    names = [p.name for p in props]
    for part in verdict_tables(checks, names, console.width):
        console.print(part)
    for c in checks:
        st = c.result.stats
        console.print(
            f"[dim]{esc(c.model.design.name)}: {st.walks:,} walks of up to {args.depth} "
            f"steps, {st.states:,} states visited, {st.deadlocks:,} deadlocked, "
            f"{st.seconds:.1f}s{'; ' + esc(st.stopped) if st.stopped else ''}[/dim]",
            soft_wrap=True,
        )
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    code = combined_exit([c.result for c in checks])
    write_outputs(
        args, rows_of_checks(checks, names, written, "simulate"), "daxcheck simulate", cmd, code
    )
    return code


def _walk(args, designs, props, cmd, console) -> tuple[list, list, dict]:
    """The walks of every design (one phase each); returns ``(checks, save conflicts,
    written files)``."""
    overrides = {k: getattr(args, k) for k in BOUND_NAMES[1:]}
    checks, problems, written = [], [], {}
    with contextlib.ExitStack() as stack:
        if args.workers >= 2:  # one Ray session for every design
            stack.enter_context(ray_session(args.workers, args.ray_address))
        for d in designs:
            phase(f"design {d.name}", limited=True)
            m = make_model(d, overrides)
            prog = Progress(console, d.name, time_limit=args.time_limit, walks=args.runs)
            try:
                c = run_simulate(
                    m,
                    props,
                    args.depth,
                    args.runs,
                    args.seed,
                    args.time_limit,
                    args.weights,
                    args.swarm,
                    prog,
                    cmd,
                    args.workers,
                    args.ray_address,
                )
            finally:
                prog.close()
            checks.append(c)
            for name, t in c.traces.items():
                f = c.result.stats.found[name]
                if not args.quiet:
                    console.print(
                        trace_table(
                            t,
                            m,
                            f"{d.name}: {name} violated: found in walk "
                            f"{f.walk} at step {f.step}, shrunk from "
                            f"{f.raw_length} to {t.depth} steps",
                        )
                    )
            if not args.no_write:
                problems += save(c, args, console, written)
    return checks, problems, written
