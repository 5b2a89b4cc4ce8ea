"""The kernel-oracle commands of the ``daxcheck`` command line.

    daxcheck kernel setup [--kernel 6.12|6.1|all]
    daxcheck oracle [--target loop-xfs|qemu-dax] [--kernel K] [--runs N] [--seed S] ...
    daxcheck replay TRACE --on qemu-dax [--kernel K]       (a counterexample on the kernel)

``loop-xfs`` (the default) compares the spec with XFS on a loop device (no DAX, fast);
``qemu-dax`` boots a Debian kernel in QEMU on an emulated NVDIMM and compares the spec
design named after it (``xfs-6.12``, ``xfs-6.1``) with the real fsdax path
(:mod:`daxcheck.checker.oracle.qemu`).  Every failure to run (not root, a missing Debian
package, no fixture, a guest that does not boot or hangs) is one line and exit 75
(incomplete); bad input is exit 2; a mismatch is exit 12.
"""
from __future__ import annotations

import argparse
import sys

from .oracle.qemu import fixture
from .results import EXIT_INCOMPLETE, EXIT_OK, EXIT_UNEXPECTED, EXIT_VIOLATION, InputError

# The oracles, the guest driver and the spec are imported where they are used: the command
# line parser is built from this module in the supervisor's parent process
# (daxcheck/supervisor.py), which must not pay for importing the spec (~1.2 s).

TARGETS = ("loop-xfs", "qemu-dax")
"""``oracle --target`` values."""


def _rate(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number in 0..1")
    return v


def _setting(text: str) -> tuple:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if value in ("True", "False"):
        return key, value == "True"
    return key, value


def add_commands(command, positive_int) -> None:
    """Add ``kernel`` and ``oracle`` to the parser: ``command(name, help=)`` makes a
    subparser (cli.build_parser's helper), ``positive_int`` is its argument type."""
    kr = command("kernel", help="prepare the Debian kernels the real-DAX oracle boots (root)")
    kr.add_argument("action", choices=("setup",), help="setup: download, unpack, build the "
                    "initramfs (cached under ~/.cache/daxcheck/kernel)")
    kr.add_argument("--kernel", choices=tuple(fixture.KERNELS) + ("all",), default="6.12")

    o = command("oracle", help="differential test of the spec against a real kernel: XFS "
                "with reflink on a loop device, or the real fsdax path in QEMU (needs root)")
    o.add_argument("--target", choices=TARGETS, default="loop-xfs",
                   help="loop-xfs (no DAX, fast; default) or qemu-dax (a Debian kernel on an "
                   "emulated NVDIMM; run `daxcheck kernel setup` first)")
    o.add_argument("--kernel", choices=tuple(fixture.KERNELS), default="6.12",
                   help="qemu-dax: the kernel booted and the spec design xfs-KERNEL compared")
    o.add_argument("--runs", type=positive_int, default=200, help="generated sequences")
    o.add_argument("--seed", type=positive_int, default=0)
    o.add_argument("--max-ops", type=positive_int, default=10, help="operations per sequence")
    o.add_argument("--crash-rate", type=_rate, default=0.1, metavar="R",
                   help="qemu-dax: share of sequences ending in a crash (default 0.1)")
    o.add_argument("--kill-share", type=_rate, default=0.2, metavar="R",
                   help="qemu-dax: share of crashes that kill QEMU and reboot (the others "
                   "shut XFS down and remount; default 0.2)")
    o.add_argument("--setting", type=_setting, action="append", default=[], metavar="K=V",
                   help="qemu-dax: change a setting of the spec design (a hypothesis to test "
                   "against the kernel, e.g. sync_fault=never); repeatable")


def add_replay_options(r) -> None:
    """``replay --on pmem|qemu-dax [--kernel K]``."""
    r.add_argument("--on", choices=("pmem", "qemu-dax"), default="pmem",
                   help="pmem: the byte-level replay (default); qemu-dax: run the actions as "
                   "syscalls on a real kernel and compare it with the fixed and the broken "
                   "design")
    r.add_argument("--kernel", choices=tuple(fixture.KERNELS), default="6.12",
                   help="--on qemu-dax: the kernel booted")


def run(args, console) -> int:
    """Dispatch ``kernel`` and ``oracle``; returns the exit code."""
    if args.cmd == "kernel":
        return _kernel_setup(args, console)
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
    from .oracle import differential
    for flag, v, hi in (("--runs", args.runs, differential.MAX_RUNS),
                        ("--max-ops", args.max_ops, differential.MAX_OPS)):
        if not 1 <= v <= hi:          # bad input before the availability check and the mount
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
    from .oracle.qemu import dax_oracle
    out = dict(args.setting)
    try:
        dax_oracle.check_settings(args.kernel, out)
    except ValueError as e:
        raise InputError(str(e)) from None
    return out


def booted(kernel: str):
    """A booted :class:`DaxGuest` on ``kernel`` with a fresh XFS mounted ``dax=always``,
    or raise GuestError / fixture.FixtureError with a one-line reason."""
    from .oracle.qemu import dax_oracle
    from .oracle.qemu.guest import DaxGuest
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
    from .oracle.qemu.guest import GuestError
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
    from .oracle import differential
    from .oracle.qemu import dax_oracle
    if not 1 <= args.runs <= differential.MAX_RUNS or not 1 <= args.max_ops <= differential.MAX_OPS:
        raise InputError(f"--runs must be in 1..{differential.MAX_RUNS:,} and --max-ops in "
                         f"1..{differential.MAX_OPS}")
    settings = _settings(args)
    s = on_guest(args.kernel, "oracle", lambda g: dax_oracle.run(
        g, args.kernel, args.runs, args.seed, args.max_ops, args.crash_rate, args.kill_share,
        settings))
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
    from .oracle.qemu import traces
    from .runner import load_user_files
    from .trace import read_itf
    load_user_files(args.designs, args.properties)
    recorded, model, _ = read_itf(args.file)
    try:
        traces.ops_from_trace(recorded.actions, model.design, recorded.prop)
    except traces.NotMappable as e:
        console.print(f"not mappable to syscalls: {e}", markup=False)
        return EXIT_INCOMPLETE
    r = on_guest(args.kernel, "replay", lambda g: traces.check_on_kernel(
        g, args.kernel, recorded.actions, model.design, recorded.prop))
    if r is None:
        return EXIT_INCOMPLETE
    console.print(f"{args.file} on {args.kernel} as {len(r.ops)} syscall ops:", markup=False)
    for i, op in enumerate(r.ops):
        console.print(f"  {i}. {op}", markup=False)
    console.print(f"xfs-{args.kernel} (fixed): {r.fixed.status}"
                  + (f" ({r.fixed.message})" if r.fixed.message else ""), markup=False)
    if r.broken is not None:
        diff = ", ".join(f"{k}={v}" for k, v in r.differing.items())
        console.print(f"{model.design.name} ({diff}): {r.broken.status}"
                      + (f" ({r.broken.message})" if r.broken.message else ""), markup=False)
    if r.shows_fixed and r.kernel_has_bug:
        diff = ", ".join(f"{k}={v}" for k, v in r.bug.items())
        console.print(f"the kernel has this design's setting ({diff}): the counterexample is "
                      f"the kernel's own behaviour", markup=False)
        return EXIT_VIOLATION
    if r.shows_fixed and (r.broken is None or r.tells_apart):
        console.print("the kernel shows the fixed design's behaviour", markup=False)
        return EXIT_OK
    if not r.shows_fixed and r.broken is not None and r.broken.status == "match":
        console.print("the kernel shows the broken design's behaviour", markup=False)
        return EXIT_VIOLATION
    if r.shows_fixed:
        console.print("the kernel matches both designs on this trace: the difference is not "
                      "observable through syscalls here", markup=False)
        return EXIT_OK
    console.print("the kernel matches neither design", markup=False)
    return EXIT_UNEXPECTED
