"""Helpers the search commands (check, simulate, gate, prove) share: output destinations
refused before any work, counterexamples saved, budgets, the distributed options."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..explicit import Budget
from ..outputs import check_outputs
from ..results import InputError
from ..runner import save_traces
from ..trace import file_name_for
from .common import esc


def preflight_outputs(args) -> None:
    """Refuse, before any work, output destinations the end of the run would refuse: a
    ``--json``/``--junit``/``--summary`` file that is a directory, a FIFO or not daxcheck's
    (without ``--force``), and an ``--out`` that exists and is not a folder.  Raises
    InputError or OutputError (exit 2)."""
    check_outputs(args)
    out = getattr(args, "out", None)
    if (
        out
        and not getattr(args, "no_write", False)
        and Path(out).exists()
        and not Path(out).is_dir()
    ):
        raise InputError(f"--out {out}: exists and is not a folder")


def check_distributed(args) -> None:
    """``--ray-address`` needs ``--workers N>=2`` and a non-empty address (InputError)."""
    if args.ray_address is not None and args.workers < 2:
        raise InputError("--ray-address needs --workers N with N >= 2")
    if args.ray_address == "":
        raise InputError("--ray-address: an empty address")


def budget(args) -> Budget:
    """The run's ``--max-states``/``--time-limit`` (per design) as a Budget."""
    return Budget(getattr(args, "max_states", None), getattr(args, "time_limit", None))


def save(check, args, console, written=None, show=None) -> list[str]:
    """Write ``check``'s counterexamples per ``--out/--force/--quiet``; returns the
    conflicts (a different existing file, an unwritable folder) as messages.  The paths of
    the files there now go to ``written[(design, property)]``; a line per file is printed
    when ``show`` (default: unless ``--quiet``)."""
    by_file = {file_name_for(check.model.design.name, p): p for p in check.traces}
    problems = []
    for path, status in save_traces(check, args.out, force=args.force):
        if status.startswith("conflict"):
            problems.append(status[len("conflict: ") :])
            continue
        if written is not None:
            written[(check.model.design.name, by_file[Path(path).name])] = path
        if (not getattr(args, "quiet", False)) if show is None else show:
            console.print(f"[dim]{status}: {esc(path)}[/dim]", soft_wrap=True)
    return problems


def replay_command(trace: str, args) -> str:
    """``daxcheck replay TRACE`` with the run's ``--designs``/``--properties`` (shell-quoted)."""
    parts = ["daxcheck", "replay", trace]
    for flag, f in (
        ("--designs", getattr(args, "designs", None)),
        ("--properties", getattr(args, "properties", None)),
    ):
        if f:
            parts += [flag, f]
    return " ".join(shlex.quote(p) for p in parts)
