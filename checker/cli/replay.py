"""``daxcheck replay FILE``: re-execute a counterexample on the spec, then on pmem bytes."""

from __future__ import annotations

import sys

from daxcheck.supervisor import phase
from daxcheck.usercode import deadline

from ..concrete.executor import RefinementError, replay_concrete
from ..concrete.pmem import PmemError
from ..replay import mismatch, replay_spec
from ..report import trace_table
from ..results import EXIT_OK, EXIT_UNEXPECTED, EXIT_VIOLATION, InputError
from ..runner import load_user_files
from ..trace import TraceError
from .common import esc


def run(args, console) -> int:
    """Run ``daxcheck replay FILE [--design D] [--pmem PATH]``: the trace on the spec (its
    own claims checked first: design settings, states, the property violated at the end),
    then its actions on a pmem byte buffer.  Returns 12 when it reproduces, 0 when a step
    is no longer enabled or the property holds, 1 when the byte-level executor disagrees
    with the spec, 75 when ``--time-limit`` runs out.  Raises TraceError / InputError on a bad or edited trace."""
    load_user_files(args.designs, args.properties)
    phase(f"replay {args.file}", limited=True)
    with deadline(args.time_limit):  # TimeLimitReached: incomplete, exit 75
        return _replay(args, console)


def _replay(args, console) -> int:
    r = replay_spec(args.file, on_design=args.design)
    if args.design is None:  # the file's own claims: checked on the spec, before any bytes
        why = mismatch(r, args.file)
        if why:
            raise TraceError(why)
    console.print(
        trace_table(r.trace, r.model, f"replay of {args.file} on design {r.model.design.name}")
    )
    for note in r.notes:
        console.print(f"[yellow]note:[/yellow] {esc(note)}", soft_wrap=True, highlight=False)
    if r.divergence:
        console.print(
            f"[yellow]note:[/yellow] the spec now computes different states: {esc(r.divergence)}",
            soft_wrap=True,
        )
    if r.disabled_at is not None:
        console.print(
            f"[green]does not reproduce:[/green] step {r.disabled_at} is no longer "
            f"enabled in design {esc(r.model.design.name)}",
            soft_wrap=True,
        )
        return EXIT_OK
    if not r.reproduced:  # decided on the spec: a byte-level symptom would be another
        console.print(
            f"[green]does not reproduce:[/green] {esc(r.prop)} holds after the last "
            f"step (on the spec; no byte-level replay for a property that holds)",
            soft_wrap=True,
        )
        return EXIT_OK
    return _on_bytes(args, r, console)


def _on_bytes(args, r, console) -> int:
    """The byte-level replay of a trace that reproduces on the spec."""
    if r.model.bounds.cuts:  # uneven byte segments: the pmem codec needs whole lines
        console.print(
            f"[yellow]note:[/yellow] no byte-level replay: the model cuts blocks at bytes "
            f"{list(r.model.bounds.cuts)} (--segs), the pmem replay needs equal segments "
            f"of whole 64-byte lines",
            soft_wrap=True,
        )
        console.print(
            f"[bold red]reproduces:[/bold red] {esc(r.prop)} fails after step "
            f"{r.trace.depth} (on the spec)",
            soft_wrap=True,
        )
        return EXIT_VIOLATION
    try:
        rep = replay_concrete(
            r.model,
            r.trace.actions,
            pmem_path=args.pmem,
            force=args.force,
            crash_states=args.crash_states,
            seed=args.seed,
            prop=r.prop,
        )
    except RefinementError as e:
        sys.stderr.write(f"daxcheck: internal error: spec and byte-level replay disagree: {e}\n")
        return EXIT_UNEXPECTED
    except (PmemError, ValueError) as e:
        raise InputError(str(e)) from None
    console.print("[bold]byte-level replay on pmem[/bold]", soft_wrap=True)
    for line in rep.lines():
        console.print(f"  {line}", markup=False, soft_wrap=True)
    console.print(
        f"[bold red]reproduces:[/bold red] {esc(r.prop)} fails after step "
        f"{r.trace.depth}{'' if rep.reproduced else ' (on the spec; no byte-level symptom)'}",
        soft_wrap=True,
    )
    return EXIT_VIOLATION
