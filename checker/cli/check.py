"""``daxcheck check``: explore designs and check properties (explicit BFS or Z3 BMC)."""

from __future__ import annotations

import contextlib
import signal
import sys
import textwrap
import threading

from rich.text import Text

from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.scopes import is_coverage_scope
from daxcheck.supervisor import phase

from ..distributed.bfs import worker_pool
from ..explicit import Budget
from ..explicit.checkpoint import EVERY, CheckpointOptions, prepare
from ..explicit.progress import stuck_threads
from ..gate import expect_differences
from ..outputs import attach_expectations, rows_of_checks, write_outputs
from ..report import Progress, run_summary, stats_line, trace_table, verdict_tables
from ..results import (
    EXIT_BAD_INPUT,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_VIOLATION,
    HOLDS,
    InputError,
    combined_exit,
    fmt_items,
)
from ..runner import (
    check_distributable,
    command_line,
    load_user_files,
    make_model,
    pick,
    pick_properties,
    run_check,
)
from .common import EXIT_INTERRUPTED, esc, user_flags
from .parser import BOUND_NAMES
from .runs import check_distributed, preflight_outputs, save


def run(args, argv, console) -> int:
    """Run ``daxcheck check`` (``args`` parsed, paths checked); prints the verdict tables
    and the run summary, writes counterexamples and ``--json/--junit/--summary``; returns
    the exit code (0 holds, 12 violated, 75 incomplete, 1 ``--expect`` difference, 130
    after a first Ctrl-C).  Without ``--design``: every design except the coverage scopes.  Raises InputError / CheckpointError / OutputError on bad input."""
    preflight_outputs(args)
    load_user_files(args.designs, args.properties)
    # Without --design: every design but the coverage scopes (seed "cov", spec/scopes.py),
    # which exist for the gate's exploration and `daxcheck coverage`.
    designs = pick(args.design, DESIGNS, "design") or []
    if not args.design:
        designs = [d for d in designs if not is_coverage_scope(d)]
    props = pick_properties(args.property)
    overrides = {k: getattr(args, k) for k in BOUND_NAMES}
    models = [make_model(d, overrides) for d in designs]
    for note in inapplicable_flags(args, models):
        console.print(f"[yellow]note:[/yellow] {esc(note)}", soft_wrap=True)
    ckpt = checkpoint_options(args, models)
    stop = threading.Event()
    cmd = command_line(argv)
    check_distributed(args)
    checks = _search(args, models, props, ckpt, stop, console, cmd)
    interrupted = stop.is_set()
    phase("reporting")
    names = [p.name for p in props]
    for part in verdict_tables(checks, names, console.width):
        console.print(part)
    written = {}
    problems = _print_checks(args, checks, len(models) == 1, console, written)
    for p in problems:
        sys.stderr.write(f"daxcheck: error: {p}\n")
    if problems:
        return EXIT_BAD_INPUT
    diffs = expect_differences(checks, names)
    if args.expect:
        code = EXIT_UNEXPECTED if diffs else EXIT_OK
    else:
        code = combined_exit([c.result for c in checks])
    if args.livelock:
        code = _livelock(checks, console, code)
    if not args.quiet:
        print_summary(
            console,
            run_summary(
                checks,
                names,
                diffs,
                written,
                user_flags(args),
                None if args.no_write else args.out,
                len(models),
                expect=args.expect,
            ),
        )
    elif args.expect:
        _expect(checks, names, console)
    if interrupted:
        code = EXIT_INTERRUPTED
    rows = rows_of_checks(checks, names, written, args.engine)
    if args.expect:  # JUnit and JSON agree with the exit code: expected violations pass
        write_outputs(
            args, attach_expectations(rows, checks), "daxcheck check --expect", cmd, code, diffs
        )
    else:
        write_outputs(args, rows, "daxcheck check", cmd, code)
    return code


def _search(args, models, props, ckpt, stop, console, cmd) -> list:
    """One run_check per model (a phase each, the supervisor's time limit applies), in a
    Ray worker pool with ``--workers N>=2``; stops after the design a first Ctrl-C ends."""
    budget = Budget(args.max_states, args.time_limit, stop=stop)
    checks = []
    with contextlib.ExitStack() as stack:
        pool = None
        if args.workers >= 2:
            check_distributable(args.engine, exact=args.exact, symmetry=args.symmetry)
            if args.por:
                raise InputError("--por is not supported with --workers N >= 2")
            if args.reduce:
                raise InputError(f"--reduce {args.reduce}: not supported with --workers N >= 2")
            pool = stack.enter_context(worker_pool(args.workers, args.ray_address))
        stack.enter_context(_soft_interrupt(stop))
        for m in models:
            phase(f"design {m.design.name}", limited=True)
            prog = Progress(console, m.design.name, time_limit=args.time_limit)
            try:
                checks.append(
                    run_check(
                        m,
                        props,
                        args.engine,
                        budget,
                        prog,
                        cmd,
                        exact=args.exact,
                        symmetry=args.symmetry,
                        pool=pool,
                        checkpoint=ckpt,
                        por=args.por,
                        reduce=args.reduce,
                    )
                )
            finally:
                prog.close()
            por = checks[-1].result.stats.por if checks else None
            if args.reduce and por and por.startswith("lipton reduction off"):
                console.print(f"{m.design.name}: {por}", soft_wrap=True)
            if stop.is_set():
                break
    return checks


def _print_checks(args, checks, one_design, console, written) -> list[str]:
    """Per check: never-fired warnings, incomplete notes, the counterexample tables
    (verbose), the files saved (into ``written``); then the statistics lines (``-v``).
    Returns the save conflicts."""
    verbose = args.verbose or one_design
    problems = []
    for c in checks:
        r = c.result
        complete = not r.stats.stopped and any(v.status == HOLDS for v in r.verdicts.values())
        for w in r.never_fired if complete else ():
            console.print(
                f"[yellow]warning:[/yellow] {esc(c.model.design.name)}: action '{w}' never fired",
                soft_wrap=True,
            )
        if r.stats.stopped:
            console.print(
                f"[yellow]incomplete:[/yellow] {esc(c.model.design.name)}: {esc(r.stats.stopped)}",
                soft_wrap=True,
            )
        if verbose and not args.quiet:
            for name, t in c.traces.items():
                items = fmt_items(name, r.verdicts[name].items, c.model.L)
                where = f" (at {', '.join(items)})" if items else ""
                console.print(
                    trace_table(
                        t,
                        c.model,
                        f"{c.model.design.name}: {name} violated at depth {t.depth}{where}",
                    )
                )
        if not args.no_write:
            problems += save(c, args, console, written, show=args.verbose)
    if args.verbose and not args.quiet:
        for c in checks:
            console.print(f"[dim]{esc(stats_line(c))}[/dim]", soft_wrap=True)
    return problems


def print_summary(console, lines) -> None:
    """Print :func:`~daxcheck.checker.report.run_summary`'s ``[(style, line)]``: prose wraps
    at the console's width; a command is never broken (it stays copyable), and when it does
    not fit with its explanation, the explanation goes on the line above it."""
    for style, line in lines:
        if not line.startswith(("  daxcheck ", "next: t=")):
            indent = " " * (len(line) - len(line.lstrip()))
            console.print(
                Text(
                    textwrap.fill(
                        line.strip(),
                        max(console.width, 40),
                        initial_indent=indent,
                        subsequent_indent=indent + "  ",
                        break_on_hyphens=False,
                    ),
                    style=style,
                ),
                soft_wrap=True,
            )
            continue
        cmd, sep, why = line.partition("   (")
        if sep and len(line) > console.width:
            console.print(Text(f"  ({why}", style="dim"), soft_wrap=False)
            console.print(Text(cmd, style=style), soft_wrap=True)
        else:
            console.print(Text(line, style=style), soft_wrap=True)


@contextlib.contextmanager
def _soft_interrupt(event):
    """Within the block, a first SIGINT (Ctrl-C) sets ``event`` and writes
    ``daxcheck: interrupted`` on stderr: the running search ends as if a budget ran out
    (what it found is kept and reported, the rest is incomplete) and no further design
    starts; a second one stops at once (the SIGINT handler installed before, exit 130).
    Main thread only (elsewhere the block runs unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGINT)

    def first(signum, frame):
        if event.is_set():
            signal.signal(signal.SIGINT, old)
            if callable(old):
                old(signum, frame)
            raise KeyboardInterrupt
        event.set()
        sys.stderr.write("daxcheck: interrupted\n")  # the one line of any Ctrl-C

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def checkpoint_options(args, models):
    """``--checkpoint``/``--resume``/``--checkpoint-every`` as a CheckpointOptions (None
    without them), the folder checked before any work.  One design per checkpoint, explicit
    engine only; InputError or CheckpointError otherwise."""
    path = args.checkpoint if args.resume is None else args.resume
    if path is None:
        if args.checkpoint_every is not None:
            raise InputError("--checkpoint-every needs --checkpoint DIR or --resume DIR")
        return None
    if args.checkpoint is not None and args.resume is not None:
        raise InputError(
            "--checkpoint and --resume: give one (a resumed run keeps "
            "checkpointing into its folder)"
        )
    flag = "--resume" if args.resume is not None else "--checkpoint"
    if args.engine != "explicit":
        raise InputError(f"{flag}: the explicit engine only")
    if getattr(args, "por", False):
        raise InputError(f"{flag}: not with --por (a checkpoint records the full search)")
    if getattr(args, "workers", 1) >= 2:
        raise InputError(f"{flag}: runs in one process: drop --workers")
    if len(models) != 1:
        raise InputError(
            f"{flag}: one design per checkpoint ({len(models)} selected); pick it with --design"
        )
    opts = CheckpointOptions(
        path,
        resume=args.resume is not None,
        every=EVERY if args.checkpoint_every is None else args.checkpoint_every,
        force=args.force,
    )
    prepare(opts)
    return opts


def inapplicable_flags(args, models) -> list[str]:
    """One line per race-only flag given for designs it cannot apply to (no split operation
    in their scope): ``--livelock`` (nothing can get stuck), ``--por`` (nothing to reduce) and
    ``--threads N`` with N > 1 (their operations are atomic: the bound changes nothing).  Empty when every flag
    applies.  Without ``--design`` (every design) only when no design in the run has one."""
    atomic = [m.design.name for m in models if not m.L.races]
    if not atomic or (not getattr(args, "design", None) and len(atomic) < len(models)):
        return []
    names = ", ".join(atomic[:3]) + (f" and {len(atomic) - 3} more" if len(atomic) > 3 else "")
    out = []
    for flag in ("livelock", "por"):
        if getattr(args, flag, False):
            out.append(f"--{flag} does not apply to {names}: no split (race) operation in scope")
    threads = getattr(args, "threads", None)
    if threads is not None and threads > 1:
        out.append(
            f"--threads {threads} does not apply to {names}: no split (race) operation in "
            "scope, every operation is atomic"
        )
    return out


def _livelock(checks, console, code) -> int:
    """``check --livelock``: per race design, the threads that can get stuck (one line
    each, with the shortest trace to a state where it is stuck); returns the exit code
    (12 when a thread can get stuck, 75 when the graph was not exhausted)."""
    for c in checks:
        m, name = c.model, c.model.design.name
        if not m.L.races:
            continue
        try:
            r = stuck_threads(m)
        except ValueError as e:
            console.print(
                f"[yellow]incomplete:[/yellow] {esc(name)}: {esc(str(e))}", soft_wrap=True
            )
            code = code if code == EXIT_VIOLATION else EXIT_INCOMPLETE
            continue
        if not r.complete:
            console.print(
                f"[yellow]incomplete:[/yellow] {esc(name)}: progress not decided: the "
                f"state graph is not exhausted at depth {r.depth}",
                soft_wrap=True,
            )
            code = code if code == EXIT_VIOLATION else EXIT_INCOMPLETE
        elif not r.stuck:
            console.print(
                f"{esc(name)}: every thread can always finish its operation ({r.states:,} states)",
                soft_wrap=True,
            )
        for s in r.stuck:
            steps = "; ".join(m.actions[i].describe() for i, _ in s.trace[1:])
            console.print(
                f"[red]livelock:[/red] {esc(name)}: thread T{s.thread} can never "
                f"finish its operation after: {esc(steps)} ({s.states:,} such "
                f"states)",
                soft_wrap=True,
            )
            code = EXIT_VIOLATION
    return code


def _expect(checks, names, console) -> int:
    """Compare each design's computed violations with its ``expect_violated`` (restricted to
    the properties checked) exactly: an unexpected violation, a missing one and an
    incomplete verdict are all differences (exit 1)."""
    bad = expect_differences(checks, names)
    for d in bad:
        console.print(
            f"[red]unexpected:[/red] {esc(d.design)}: {esc(d.computed)} (expected "
            f"{esc(d.manifest)})",
            highlight=False,
            soft_wrap=True,
        )
    if not bad:
        console.print(
            "[green]all verdicts match the designs' expectations exactly[/green]", soft_wrap=True
        )
    return EXIT_UNEXPECTED if bad else EXIT_OK
