"""``daxcheck gate``: recompute every verdict, depth and state count of a manifest and
compare them exactly; ``--update`` rewrites it."""

from __future__ import annotations

import shlex
from pathlib import Path

from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.supervisor import phase

from ..gate import (
    DEFAULT_MANIFEST,
    compare,
    compute,
    expect_differences,
    load_manifest,
    load_manifest_user_files,
    manifest_of,
    run_gate,
    update_manifest,
    write_failures,
)
from ..outputs import attach_differences, rows_of_checks, write_outputs
from ..report import Progress, difference_table, verdict_tables
from ..results import EXIT_OK, EXIT_UNEXPECTED, InputError, did_you_mean
from ..runner import command_line, load_user_files
from .common import esc
from .runs import budget, preflight_outputs, replay_command


def run(args, argv, console) -> int:
    """Run ``daxcheck gate [MANIFEST]`` (or ``--update``); returns 0 when every design
    matches the manifest (or the update leaves no unexpected verdict), 1 otherwise.
    Raises InputError / ManifestError on bad input (no manifest, unknown design)."""
    shipped = {
        "designs": list(DESIGNS),
        "properties": [n for n, p in PROPERTIES.items() if p.origin == "shipped"],
    }
    preflight_outputs(args)
    load_user_files(args.designs, args.properties)
    path = Path(args.manifest) if args.manifest is not None else DEFAULT_MANIFEST
    is_shipped = path.resolve() == DEFAULT_MANIFEST.resolve()
    if path.exists():  # the user files it records, unless given on the command line
        for note in load_manifest_user_files(load_manifest(path), path):
            console.print(f"[yellow]note:[/yellow] {esc(note)}", soft_wrap=True)
    elif not args.update and not path.is_symlink():
        raise InputError(
            f"{path}: no such manifest (create one with "
            f"{gate_command(args, is_shipped=is_shipped, update=True)})"
        )
    unknown = [d for d in args.design if d not in DESIGNS]
    if unknown:
        raise InputError(
            f"unknown design {unknown[0]!r}{did_you_mean(unknown[0], DESIGNS)} "
            f"(valid: {', '.join(DESIGNS)})"
        )

    def progress(name):
        phase(f"design {name}", limited=True)
        return Progress(console, name, time_limit=args.time_limit)

    if args.update:
        return _update(args, path, is_shipped, shipped, progress, console)
    return _gate(args, argv, path, is_shipped, shipped, progress, console)


def _update_names(args, old, is_shipped, shipped) -> tuple[list, list]:
    """The designs and properties ``gate --update`` recomputes."""
    if args.design:
        names = list(args.design)
    elif old is not None:
        names = [n for n in old["designs"] if n in DESIGNS]
        names += [n for n in (shipped["designs"] if is_shipped else ()) if n not in names]
    else:  # a new manifest of a user's own designs (all designs if none were loaded)
        names = [n for n in DESIGNS if is_shipped or n not in shipped["designs"]] or list(DESIGNS)
    props = [p for p in (old["properties"] if old else PROPERTIES) if p in PROPERTIES]
    if is_shipped:
        props += [p for p in shipped["properties"] if p not in props]
    return names, props


def _update(args, path, is_shipped, shipped, progress, console) -> int:
    """``gate --update``: recompute, print what moved, rewrite the manifest and its
    counterexamples; 1 when a design still differs from its ``expect_violated``."""
    if args.time_limit is not None:
        raise InputError(
            "--time-limit cannot be combined with --update (a manifest never "
            "pins an incomplete verdict)"
        )
    old = load_manifest(path) if path.exists() else None
    if old is not None:
        refuse_unregistered(old, path, DESIGNS, PROPERTIES)
    names, props = _update_names(args, old, is_shipped, shipped)
    checks = compute(names, DESIGNS, [PROPERTIES[p] for p in props], progress=progress)
    if old is not None:
        moved = compare(
            {**old, "designs": {n: e for n, e in old["designs"].items() if n in names}},
            manifest_of(checks, props),
            checks,
        )
        if moved:
            console.print(difference_table(moved, f"what moved since {path}"))
    for f, status in update_manifest(path, checks, props, old):
        console.print(f"[dim]{status}: {esc(f)}[/dim]", soft_wrap=True)
    still = expect_differences(checks, props)
    if still:
        console.print(
            difference_table(
                still,
                "still different after --update: a design "
                "must declare what it violates (expect_violated)",
            )
        )
        return EXIT_UNEXPECTED
    return EXIT_OK


def _gate(args, argv, path, is_shipped, shipped, progress, console) -> int:
    """The gate itself: recompute, replay, write ``--json/--junit/--summary`` and, on a
    failure, the traces behind it into ``--out``."""
    res = run_gate(
        path,
        DESIGNS,
        PROPERTIES,
        only=args.design or None,
        require_all=shipped if is_shipped else None,
        budget=budget(args),
        progress=progress,
        replay=not args.no_replay,
    )
    names = [p for p in res.manifest["properties"] if p in PROPERTIES]
    if not args.quiet:
        _print_verdicts(res, names, console)
    files = {
        (n, p): str(path.parent / e["counterexample"])
        for n, d in res.manifest["designs"].items()
        for p, e in d["verdicts"].items()
        if "counterexample" in e
    }
    failures, problems = ({}, []) if res.passed else write_failures(res, args.out)
    files.update(failures)
    for p in problems:
        console.print(f"[yellow]warning:[/yellow] {esc(p)}", soft_wrap=True)
    code = EXIT_OK if res.passed else EXIT_UNEXPECTED
    write_outputs(
        args,
        attach_differences(rows_of_checks(res.checks, names, files), res.differences),
        "daxcheck gate",
        command_line(argv),
        code,
        res.differences,
    )
    if res.passed:
        console.print(
            f"[green]gate passed:[/green] {len(res.checks)} designs match {esc(path)}",
            soft_wrap=True,
        )
        return EXIT_OK
    _print_failure(args, path, res, failures, console, is_shipped=is_shipped)
    return EXIT_UNEXPECTED


def _print_verdicts(res, names: list, console) -> None:
    """The verdict tables of the gate's designs and how many manifest counterexamples
    reproduced (not with ``--quiet``)."""
    for part in verdict_tables(res.checks, names, console.width):
        console.print(part)
    ok = sum(1 for _, s in res.replayed if s == "reproduces")
    console.print(
        f"[dim]counterexamples replayed (spec and pmem bytes): {ok} of "
        f"{len(res.replayed)} reproduce[/dim]",
        soft_wrap=True,
    )


def _print_failure(args, path, res, failures: dict, console, *, is_shipped: bool) -> None:
    """A failed gate's differences, where the traces behind them went (``failures``:
    ``{(design, property): file}``) and the command that accepts a deliberate change."""
    console.print(
        difference_table(
            res.differences, f"gate failed: {len(res.differences)} difference(s) from {path}"
        )
    )
    if failures:
        first = next(iter(failures.values()))
        console.print(
            f"the traces behind it: {len(failures)} in {esc(args.out)}/ (see one: "
            f"{esc(replay_command(first, args))})",
            soft_wrap=True,
            highlight=False,
        )
    console.print(
        f"[dim]after a deliberate change: {esc(gate_command(args, is_shipped=is_shipped, update=True))}[/dim]",
        soft_wrap=True,
    )


def gate_command(args, *, is_shipped: bool, update: bool = False) -> str:
    """The ``daxcheck gate`` command line that repeats this run's gate (with ``--update``
    when ``update``), carrying its manifest (unless the shipped one), ``--design`` and
    ``--designs``/``--properties`` exactly as given, shell-quoted: a hint that does the
    right thing when run as printed from the same folder."""
    parts = ["daxcheck", "gate"] + (["--update"] if update else [])
    if args.manifest is not None and not is_shipped:
        parts.append(args.manifest)
    for d in args.design:
        parts += ["--design", d]
    for flag, f in (("--designs", args.designs), ("--properties", args.properties)):
        if f:
            parts += [flag, f]
    return " ".join(shlex.quote(p) for p in parts)


def refuse_unregistered(manifest: dict, path, designs, props) -> None:
    """``gate --update`` never drops what a manifest gates: InputError naming the first
    design or property the manifest lists that is not registered in this run."""
    for what, names, registry, flag in (
        ("design", manifest["designs"], designs, "--designs"),
        ("property", manifest["properties"], props, "--properties"),
    ):
        gone = [n for n in names if n not in registry]
        if gone:
            raise InputError(
                f"{path} lists {what} {gone[0]!r}, not registered in this run: "
                f"pass the file defining it with {flag} FILE (or delete it from "
                f"{path} by hand to stop gating it); nothing was updated"
            )
