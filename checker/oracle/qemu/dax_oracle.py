"""The real-DAX oracle: operation sequences on a Debian kernel's fsdax path and on the spec.

A sequence of :class:`~..differential.Op` values over 2-3 files of 2-3 blocks runs on XFS
mounted ``-o dax=always`` on the emulated NVDIMM of a :class:`~.guest.DaxGuest` and on the
spec design that models that kernel (:func:`~daxcheck.spec.kernels.kernel_design`,
``xfs-6.12`` / ``xfs-6.1``).  The ops are the loop-XFS oracle's (pwrite, fallocate, punch
hole, FICLONE, FICLONERANGE, fdatasync, ftruncate: their spec side is shared) plus the DAX
ones: mmap with MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC or MAP_PRIVATE (:class:`Map`),
munmap, stores and loads through the mapping (write and read faults, :class:`MStore`,
:class:`MLoad`), msync, fsync, and a crash (:class:`Crash`).

After every op, for every file, the kernel's ``state`` (i_size, FIEMAP, STATX_ATTR_DAX and
one byte per 2 KiB segment) is compared with the spec: contents at the spec's granularity,
the size, the extent map (:func:`~..differential.compare_maps`), the DAX attribute; the
errno of the op (SIGBUS for a store or load past EOF, where the spec's fault is disabled)
and the guest's console (a WARN/BUG/Oops line is a mismatch unless the spec's
``warning`` field says the kernel warns).

A crash ends a sequence.  On the kernel: SIGKILL of QEMU and a reboot (``kill``) or
XFS_IOC_GOINGDOWN without a log flush and a remount (``shutdown``); either way the next
mount runs log recovery and every file is read back.  On the spec: the *set* of allowed
post-crash states: every subset of dirty cache lines evicted (QEMU has no cache model, so
the kernel shows the all-evicted member), the log as the spec's last log force left it
(the guest's XFS log worker is slowed to its maximum period, so nothing pushes the log in
the background).  The kernel's recovered state must equal one member at the spec's
granularity (block counts, segment contents, extent map).

Units: ``seg`` is a 2 KiB segment within a file, ``blk`` a 4 KiB block, sizes in bytes.

Modules: :mod:`.shadows` (the guest context and its shadow of the kernel's inode core),
:mod:`.file_ops` and :mod:`.mmap_ops` (the operations), :mod:`.compare` (what is compared);
this module runs sequences (:func:`run_sequence`, :func:`run`) and re-exports their public
names.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from ....spec.kernels import SETTINGS, kernel_design
from ....spec.state import SEGS
from .. import differential as D
from ..ops import Discard, Mismatch, OracleError, Skip
from .compare import check_warnings, compare, compare_crash, guest_states
from .file_ops import (
    Clone,
    CloneRange,
    CollapseRange,
    Dedupe,
    Falloc,
    Fdatasync,
    Fsync,
    InsertRange,
    PunchHole,
    PWrite,
    Trunc,
    Unshare,
    ZeroRange,
)
from .guest import DaxGuest
from .mmap_ops import CRASH_KINDS, Crash, Map, MLoad, MStore, Msync, MTouch, Unmap, crash_members
from .shadows import (
    FALLOC_PUNCH,
    MAP_KINDS,
    PIN_CORE,
    PIN_NONE,
    PIN_TIME,
    REFUSED_SHIFT_LOGS_CORE,
    SIGBUS,
    GuestCtx,
    journal_of,
    log_forced,
)

__all__ = [
    "Clone",
    "CloneRange",
    "CollapseRange",
    "Dedupe",
    "Falloc",
    "Fdatasync",
    "Fsync",
    "InsertRange",
    "PunchHole",
    "PWrite",
    "Trunc",
    "Unshare",
    "ZeroRange",
    "Crash",
    "CRASH_KINDS",
    "Map",
    "MLoad",
    "MStore",
    "MTouch",
    "Msync",
    "Unmap",
    "crash_members",
    "compare",
    "compare_crash",
    "check_warnings",
    "GuestCtx",
    "FALLOC_PUNCH",
    "MAP_KINDS",
    "PIN_CORE",
    "PIN_NONE",
    "PIN_TIME",
    "REFUSED_SHIFT_LOGS_CORE",
    "SIGBUS",
    "Outcome",
    "run_sequence",
    "check_settings",
    "prepare",
    "sequences",
    "shrink",
    "Summary",
    "run",
]


# ----------------------------------------------------------------------------- runner
@dataclass
class Outcome:
    """Result of one sequence: ``status`` 'match', 'mismatch' or 'discarded'; ``ops_run``
    ops executed on the kernel; ``message`` what differed; ``crash`` None, or the crash
    kind run and ``member`` the allowed post-crash state it matched."""

    status: str
    ops_run: int
    message: str = ""
    crash: str | None = None
    member: str = ""


def run_sequence(
    guest: DaxGuest, kernel: str, files: int, blocks: int, ops, settings: dict | None = None
) -> Outcome:
    """Run ``ops`` on fresh files f0.. in the guest's DAX XFS (mounted by :func:`prepare`)
    and on ``xfs-<kernel>`` (with ``settings`` changed, e.g. a deliberately wrong
    ``{"sync_fault": "never"}``) at ``files`` x ``blocks``, comparing after every op (module
    docstring).  Raises OracleError for ops outside the bounds, GuestError when the guest
    dies or hangs."""
    if files not in (2, 3) or blocks not in (1, 2, 3):
        raise OracleError(
            f"the real-DAX oracle runs 2-3 files of 1-3 blocks, not {files} x {blocks}"
        )
    for op in ops:
        op.check(blocks, files)
    model = D.model_for(files, blocks, _design(kernel, settings))
    c = GuestCtx(model, guest, blocks, kernel)
    guest.cmd(f"reset {files}")
    guest.kernel_warnings()
    done, warned = 0, 0
    for i, op in enumerate(ops):
        c.expect = None
        journal = journal_of(c)
        try:
            op.spec(c)
        except Skip:
            continue
        except Discard as e:
            return Outcome(
                "discarded", done, f"op {i} {op}: spec cannot express {e} (ENOSPC at these bounds)"
            )
        if journal_of(c) != journal:  # the log was forced: every inode's changes are in it
            log_forced(c)
        try:
            op.guest(c)
            done += 1
            if isinstance(op, Crash):
                member = compare_crash(c, guest_states(c))
                check_warnings(c, op, warned)
                return Outcome("match", done, crash=op.how, member=member)
            compare(c, guest_states(c))
            check_warnings(c, op, warned)
            warned = c.s[c.L.warning]
        except Mismatch as e:
            return Outcome(
                "mismatch",
                done,
                f"after op {i} {op}: {e}",
                crash=op.how if isinstance(op, Crash) else None,
            )
    return Outcome("match", done)


_DESIGNS: dict = {}


def check_settings(kernel: str, settings: dict) -> None:
    """Raise ValueError (one line) for an unknown kernel, setting name or setting value."""
    if kernel not in SETTINGS:
        raise ValueError(f"unknown kernel {kernel!r}: choose one of {', '.join(SETTINGS)}")
    known = kernel_design(kernel).settings()
    for key, _value in settings.items():
        if key not in known:
            raise ValueError(f"unknown setting {key!r} (settings: {', '.join(sorted(known))})")
    kernel_design(kernel).variant(**settings)  # DesignError (a ValueError) for a bad value


def _design(kernel: str, settings: dict | None = None):
    """A design function for :func:`~..differential.model_for`: ``xfs-<kernel>`` with
    ``settings`` changed (one object per kernel and settings, so the model cache keys on
    it).  Raises DesignError for an unknown setting or value."""
    key = (kernel, tuple(sorted((settings or {}).items())))
    if key not in _DESIGNS:
        kernel_design(kernel).variant(**dict(key[1]))  # DesignError now, not mid-run

        def make(files, blocks):
            d = kernel_design(kernel, files, blocks)
            return (
                d.variant(
                    name=f"{d.name}+{','.join(f'{k}={v}' for k, v in key[1])}", **dict(key[1])
                )
                if key[1]
                else d
            )

        _DESIGNS[key] = make
    return _DESIGNS[key]


def prepare(guest: DaxGuest, *, fresh: bool) -> None:
    """mkfs.xfs -m reflink=1 (when ``fresh``) and mount -o dax=always in the guest."""
    if fresh:
        guest.cmd("mkfs xfs", timeout=120)
    guest.cmd("mount xfs dax=always")


def sequences(max_ops: int = 10):
    """Hypothesis strategy of ``(files, blocks, ops)``: 3 files of 2 blocks or 2 files of 3
    blocks, 1..``max_ops`` ops weighted towards writes and mapping traffic (the crash at
    the end is :func:`run`'s choice)."""
    from hypothesis import strategies as st

    @st.composite
    def strat(draw):
        files, blocks = draw(st.sampled_from(((3, 2), (2, 3))))
        op = _operations(files, blocks)
        n = draw(st.integers(1, max_ops))
        return files, blocks, draw(st.lists(op, min_size=n, max_size=n))

    return strat()


def _operations(files: int, blocks: int):
    """Hypothesis strategy of one operation on ``files`` files of ``blocks`` blocks (of
    ``SEGS`` segments): writes and stores twice as likely as the others."""
    from hypothesis import strategies as st

    fi = st.integers(0, files - 1)
    bl = st.integers(0, blocks - 1)
    tok = st.integers(1, 3)
    nseg = blocks * SEGS
    seg = st.integers(0, nseg - 1)

    @st.composite
    def pwrite(d):
        g = d(seg)
        return PWrite(d(fi), g, d(st.integers(1, min(3, nseg - g))), d(tok))

    @st.composite
    def zero_range(d):
        lo = d(st.integers(0, SEGS - 1))
        return ZeroRange(d(fi), d(bl), lo, d(st.integers(lo, SEGS - 1)))

    clone, clonerange, dedupe = _sharing_operations(fi, blocks)
    return st.one_of(
        pwrite(),
        pwrite(),
        st.builds(Map, fi, st.sampled_from(MAP_KINDS)),
        st.builds(MStore, fi, seg, tok),
        st.builds(MStore, fi, seg, tok),
        st.builds(MLoad, fi, seg),
        st.builds(MTouch, fi, bl),
        st.builds(Msync, fi),
        st.builds(Unmap, fi),
        st.builds(Falloc, fi, bl),
        st.builds(PunchHole, fi, bl),
        clone,
        clonerange,
        dedupe,
        zero_range(),
        st.builds(Unshare, fi, bl),
        st.builds(CollapseRange, fi, st.integers(0, blocks - 2)),
        st.builds(InsertRange, fi, st.integers(0, blocks - 2)),
        st.builds(Fdatasync, fi),
        st.builds(Fsync, fi),
        st.builds(Trunc, fi, st.integers(0, blocks)),
    )


def _sharing_operations(fi, blocks: int) -> tuple:
    """Hypothesis strategies ``(FICLONE, FICLONERANGE, FIDEDUPERANGE)`` between two
    distinct files drawn from ``fi``, ranges of 1..``blocks`` blocks."""
    from hypothesis import strategies as st

    @st.composite
    def clone(d):
        a = d(fi)
        return Clone(a, d(fi.filter(lambda b: b != a)))

    @st.composite
    def clonerange(d):
        n = d(st.integers(1, blocks))
        return CloneRange(
            d(fi), d(st.integers(0, blocks - n)), d(fi), d(st.integers(0, blocks - n)), n
        )

    @st.composite
    def dedupe(d):
        a, n = d(fi), d(st.integers(1, blocks))
        return Dedupe(
            a,
            d(st.integers(0, blocks - n)),
            d(fi.filter(lambda b: b != a)),
            d(st.integers(0, blocks - n)),
            n,
        )

    return clone(), clonerange(), dedupe()


def shrink(run_ops, ops: list, message: str) -> tuple[list, str]:
    """Greedy one-op-at-a-time removal: drop each op in turn while ``run_ops(ops)`` (an
    :class:`Outcome`) is still a mismatch, until no single removal keeps it.  Returns the
    smaller op list and its mismatch message.  A Crash op is kept last."""
    changed = True
    while changed:
        changed = False
        for i in range(len(ops)):
            trial = ops[:i] + ops[i + 1 :]
            if not trial:
                continue
            out = run_ops(trial)
            if out.status == "mismatch":
                ops, message, changed = trial, out.message, True
                break
    return ops, message


@dataclass
class Summary:
    """What :func:`run` did on one kernel: ``sequences`` run (including shrinking replays),
    ``operations`` on the kernel, ``matched``/``discarded`` sequences, crash points by kind
    (``kills``, ``shutdowns``), ``boots`` and their seconds, ``mismatches`` ``(ops, message)`` after
    shrinking, wall ``seconds``."""

    kernel: str
    release: str = ""
    sequences: int = 0
    operations: int = 0
    matched: int = 0
    discarded: int = 0
    kills: int = 0
    shutdowns: int = 0
    boots: int = 0
    boot_seconds: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A human-readable report, one line per item."""
        boot = (
            f", {self.boots} boots ({min(self.boot_seconds):.1f}-{max(self.boot_seconds):.1f} s)"
            if self.boot_seconds
            else ""
        )
        out = [
            f"real-DAX oracle on {self.kernel} ({self.release}): {self.sequences} sequences, "
            f"{self.operations} operations, {self.matched} matched, {self.discarded} discarded "
            f"(spec bounds), crash points {self.kills + self.shutdowns} ({self.kills} kill+reboot, "
            f"{self.shutdowns} shutdown+remount)"
            f"{boot}, {len(self.mismatches)} mismatch{'es' if len(self.mismatches) != 1 else ''} "
            f"in {self.seconds:.1f}s"
        ]
        for ops, msg in self.mismatches:
            out.append(f"MISMATCH: {msg}")
            out.extend(f"  {i}. {o}" for i, o in enumerate(ops))
        return out


def run(
    guest: DaxGuest,
    kernel: str,
    runs: int,
    seed: int,
    max_ops: int = 10,
    crash_rate: float = 0.1,
    kill_share: float = 0.2,
    settings: dict | None = None,
) -> Summary:
    """Hypothesis generates sequences (seeded with ``seed``) until ``runs`` were not
    discarded, each run by :func:`run_sequence` on the booted ``guest``; a share
    ``crash_rate`` of them end in a crash, of which a share ``kill_share`` kill QEMU (a
    reboot, 6-9 s) and the others shut XFS down; the first mismatch is shrunk to a small op
    list (:func:`shrink`); ``settings`` change the spec design as in :func:`run_sequence`.
    Returns a :class:`Summary`.  Raises OracleError for bad
    counts or rates, GuestError when the guest dies or hangs."""
    _check_run_args(kernel, runs, max_ops, crash_rate, kill_share)
    D.hypothesis_home()
    from hypothesis import HealthCheck, Phase, assume, given
    from hypothesis import seed as hseed
    from hypothesis import settings as hsettings

    summary = Summary(kernel, guest.release)
    failing: list = []
    t0 = time.monotonic()

    def once(files, blocks, ops) -> Outcome:
        out = run_sequence(guest, kernel, files, blocks, ops, settings)
        summary.sequences += 1
        summary.operations += out.ops_run
        return out

    # Hypothesis generates; a mismatch is shrunk by :func:`shrink` (one pass per op, at most
    # len(ops)**2 replays) rather than by hypothesis, whose shrinker replays a sequence
    # with a crash hundreds of times, a reboot each.
    @hseed(seed)
    @hsettings(
        max_examples=runs,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate),
    )
    @given(sequences(max_ops))
    def prop(seq):
        files, blocks, ops = seq
        ops = _with_crash(ops, seed, crash_rate, kill_share)
        out = once(files, blocks, ops)
        if out.status == "discarded":
            summary.discarded += 1
            assume(False)
        if out.status == "mismatch":
            failing[:] = [files, blocks, ops, out.message]
            raise AssertionError(out.message)
        _tally(summary, out)

    try:
        prop()
    except AssertionError:
        if not failing:  # pragma: no cover - hypothesis internal failure
            raise
        files, blocks, ops, msg = failing
        ops, msg = shrink(lambda o: once(files, blocks, o), ops, msg)
        summary.mismatches.append(([str(o) for o in ops], msg))
    summary.boots = guest.boots
    summary.boot_seconds = list(guest.boot_seconds)
    summary.seconds = time.monotonic() - t0
    return summary


def _check_run_args(
    kernel: str, runs: int, max_ops: int, crash_rate: float, kill_share: float
) -> None:
    """Raise OracleError (one line) for an unknown kernel, a run or op count out of range,
    or a rate outside 0..1 (the arguments of :func:`run`)."""
    if kernel not in SETTINGS:
        raise OracleError(f"unknown kernel {kernel!r}: choose one of {', '.join(SETTINGS)}")
    if not 1 <= runs <= D.MAX_RUNS or not 1 <= max_ops <= D.MAX_OPS:
        raise OracleError(f"runs must be in 1..{D.MAX_RUNS} and max-ops in 1..{D.MAX_OPS}")
    if not (0 <= crash_rate <= 1 and 0 <= kill_share <= 1):
        raise OracleError("crash rate and kill share must be in 0..1")


def _with_crash(ops: list, seed: int, crash_rate: float, kill_share: float) -> list:
    """``ops``, ending in a :class:`Crash` for a share ``crash_rate`` of sequences (a kill
    for a share ``kill_share`` of those).  The crash is drawn here from ``seed`` and the
    ops, not by hypothesis (whose draws favour the bounds), so the rates are what was
    asked for."""
    r = random.Random(f"{seed}:{ops!r}").random()
    if r < crash_rate:
        return ops + [Crash("kill" if r < crash_rate * kill_share else "shutdown")]
    return ops


def _tally(summary: Summary, out: Outcome) -> None:
    """Count a matched sequence ``out`` in ``summary`` (and its crash point by kind)."""
    summary.matched += 1
    if out.crash == "kill":
        summary.kills += 1
    elif out.crash == "shutdown":
        summary.shutdowns += 1
