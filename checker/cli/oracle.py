"""The kernel-oracle commands of the ``daxcheck`` command line.

    daxcheck kernel setup [--kernel 6.12|6.1|all]
    daxcheck oracle [--target loop-xfs|qemu-dax] [--kernel K] [--runs N] [--seed S] ...
    daxcheck replay TRACE --on qemu-dax [--kernel K]       (a counterexample on the kernel)

``loop-xfs`` (the default) compares the spec with XFS on a loop device (no DAX, fast);
``qemu-dax`` boots a Debian kernel in QEMU on an emulated NVDIMM and compares the spec
design named after it (``xfs-6.12``, ``xfs-6.1``) with the real fsdax path
(:mod:`daxcheck.checker.oracle.qemu`).  Every failure to run (not root, a missing Debian
package, no fixture, a guest that does not boot or hangs) is one line and exit 75
(incomplete); bad input is exit 2; a mismatch is exit 12.  Their options are declared in
:mod:`.parser` (the supervisor's parent builds the parser without importing the oracles).
"""

from __future__ import annotations

import sys

from daxcheck.supervisor import phase

from ..oracle import differential
from ..oracle.qemu import dax_oracle, fixture, traces
from ..oracle.qemu.guest import DaxGuest, GuestError
from ..results import EXIT_INCOMPLETE, EXIT_OK, EXIT_UNEXPECTED, EXIT_VIOLATION, InputError
from ..runner import load_user_files
from ..trace import read_itf


def run(args, console) -> int:
    """Dispatch ``kernel`` and ``oracle``; returns the exit code.  Under the supervisor one
    limited phase: ``--time-limit`` stops it from the parent (SIGTERM: the loop device is
    unmounted and the guest shut down by the ``finally`` blocks below, as on Ctrl-C)."""
    if args.cmd == "kernel":
        phase(f"kernel setup {args.kernel}", limited=True)
        return _kernel_setup(args, console)
    phase(f"oracle --target {args.target}", limited=True)
    if args.target == "loop-xfs":
        return _loop_oracle(args, console)
    return _qemu_oracle(args, console)


def _kernel_setup(args, console) -> int:
    kernels = tuple(fixture.KERNELS) if args.kernel == "all" else (args.kernel,)
    for k in kernels:
        try:
            fx = fixture.setup(k, log=lambda line: console.print(line, markup=False))
        except fixture.FixtureError as e:
            sys.stderr.write(f"daxcheck: kernel setup cannot run here: {e}\n")
            return EXIT_INCOMPLETE
        console.print(f"kernel {k}: ready ({fx.release}, {fx.vmlinuz})", markup=False)
    return EXIT_OK


def _loop_oracle(args, console) -> int:
    for flag, v, hi in (
        ("--runs", args.runs, differential.MAX_RUNS),
        ("--max-ops", args.max_ops, differential.MAX_OPS),
    ):
        if not 1 <= v <= hi:  # bad input before the availability check and the mount
            raise InputError(f"{flag} {v} is out of range 1..{hi:,}")
    if args.setting:
        raise InputError("--setting applies to --target qemu-dax only")
    why = differential.unavailable_reason()
    if why:
        sys.stderr.write(f"daxcheck: oracle cannot run here: {why}\n")
        return EXIT_INCOMPLETE
    try:
        with differential.xfs_mount() as m:
            s = differential.run_oracle(m.path, args.runs, args.seed, max_ops=args.max_ops)
    except differential.OracleError as e:
        raise InputError(str(e)) from None
    for line in s.lines():
        console.print(line, markup=False)
    return EXIT_VIOLATION if s.mismatches else EXIT_OK


def _settings(args) -> dict:
    out = dict(args.setting)
    try:
        dax_oracle.check_settings(args.kernel, out)
    except ValueError as e:
        raise InputError(str(e)) from None
    return out


def booted(kernel: str):
    """A booted :class:`DaxGuest` on ``kernel`` with a fresh XFS mounted ``dax=always``,
    or raise GuestError / fixture.FixtureError with a one-line reason."""
    why = fixture.unavailable_reason(kernel)
    if why:
        raise fixture.FixtureError(why)
    g = DaxGuest(fixture.find(kernel))
    try:
        g.boot()
        dax_oracle.prepare(g, fresh=True)
    except BaseException:
        g.close()
        raise
    return g


def on_guest(kernel: str, what: str, work):
    """``work(guest)`` on a :func:`booted` guest of ``kernel``, always closed afterwards;
    its result, or None after writing one line (``what`` cannot run here: no fixture, the
    guest did not boot; or incomplete: the guest hung or died)."""
    try:
        g = booted(kernel)
    except (fixture.FixtureError, GuestError) as e:
        sys.stderr.write(f"daxcheck: {what} cannot run here: {e}\n")
        return None
    try:
        return work(g)
    except GuestError as e:
        sys.stderr.write(f"daxcheck: incomplete: {e}\n")
        return None
    finally:
        g.close()


def _qemu_oracle(args, console) -> int:
    if not 1 <= args.runs <= differential.MAX_RUNS or not 1 <= args.max_ops <= differential.MAX_OPS:
        raise InputError(
            f"--runs must be in 1..{differential.MAX_RUNS:,} and --max-ops in "
            f"1..{differential.MAX_OPS}"
        )
    settings = _settings(args)
    s = on_guest(
        args.kernel,
        "oracle",
        lambda g: dax_oracle.run(
            g,
            args.kernel,
            args.runs,
            args.seed,
            args.max_ops,
            args.crash_rate,
            args.kill_share,
            settings,
        ),
    )
    if s is None:
        return EXIT_INCOMPLETE
    for line in s.lines():
        console.print(line, markup=False)
    return EXIT_VIOLATION if s.mismatches else EXIT_OK


def replay_on_kernel(args, console) -> int:
    """``replay TRACE --on qemu-dax``: the trace's actions as syscalls on the kernel; exit 0
    when the kernel shows the fixed design's behaviour (and, where the trace's design
    differs in settings, not the broken one's), 12 when it shows the broken one's (or the
    kernel's own design has the trace design's bug settings and matches), 1 when it
    matches neither, 75 when the trace cannot be mapped or the kernel cannot run."""
    load_user_files(args.designs, args.properties)
    phase(f"replay on qemu-dax {args.kernel}", limited=True)
    recorded, model, _ = read_itf(args.file)
    try:
        traces.ops_from_trace(recorded.actions, model.design, recorded.prop)
    except traces.NotMappable as e:
        console.print(f"not mappable to syscalls: {e}", markup=False)
        return EXIT_INCOMPLETE
    r = on_guest(
        args.kernel,
        "replay",
        lambda g: traces.check_on_kernel(
            g, args.kernel, recorded.actions, model.design, recorded.prop
        ),
    )
    if r is None:
        return EXIT_INCOMPLETE
    console.print(f"{args.file} on {args.kernel} as {len(r.ops)} syscall ops:", markup=False)
    for i, op in enumerate(r.ops):
        console.print(f"  {i}. {op}", markup=False)
    console.print(
        f"xfs-{args.kernel} (fixed): {r.fixed.status}"
        + (f" ({r.fixed.message})" if r.fixed.message else ""),
        markup=False,
    )
    if r.broken is not None:
        diff = ", ".join(f"{k}={v}" for k, v in r.differing.items())
        console.print(
            f"{model.design.name} ({diff}): {r.broken.status}"
            + (f" ({r.broken.message})" if r.broken.message else ""),
            markup=False,
        )
    if r.shows_fixed and r.kernel_has_bug:
        diff = ", ".join(f"{k}={v}" for k, v in r.bug.items())
        console.print(
            f"the kernel has this design's setting ({diff}): the counterexample is "
            f"the kernel's own behaviour",
            markup=False,
        )
        return EXIT_VIOLATION
    if r.shows_fixed and (r.broken is None or r.tells_apart):
        console.print("the kernel shows the fixed design's behaviour", markup=False)
        return EXIT_OK
    if not r.shows_fixed and r.broken is not None and r.broken.status == "match":
        console.print("the kernel shows the broken design's behaviour", markup=False)
        return EXIT_VIOLATION
    if r.shows_fixed:
        console.print(
            "the kernel matches both designs on this trace: the difference is not "
            "observable through syscalls here",
            markup=False,
        )
        return EXIT_OK
    console.print("the kernel matches neither design", markup=False)
    return EXIT_UNEXPECTED
