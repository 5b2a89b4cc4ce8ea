"""The real kernel as an oracle: differential testing of the spec against XFS with reflink.

DAX needs pmem, but the file-data semantics the spec relies on (what read(2) returns after
writes, partial writes, mmap stores, fallocate, punch hole, reflink, copy-on-write breaking
of shared blocks, which ranges stay shared) are the same on a regular XFS with reflink.  An
*operation sequence* (:class:`Op` values over 2-3 files) runs twice:

* on the kernel, in a directory of a mounted XFS (see :func:`xfs_mount`), through the real
  syscalls (pwrite, mmap store + msync, fallocate, FALLOC_FL_PUNCH_HOLE, FICLONE,
  FICLONERANGE, fdatasync, ftruncate);
* on the spec, each op mapped to spec actions (:meth:`Op.spec_actions`) of the design
  :func:`oracle_design` (cow-srcmap with ``shared_check='in-core'``: the kernel decides
  sharing from the in-core refcount btree).

After every op the contents of every file are compared byte for byte (the spec's token per
2 KiB segment expands to :func:`token_bytes`; the kernel's byte-granular i_size is tracked
next to the spec's size in blocks); at the end of the sequence FIEMAP (with
FIEMAP_FLAG_SYNC) is compared with the spec's extent map: which (file, block) pairs are
allocated, unwritten, share a physical block (equality classes), and carry
FIEMAP_EXTENT_SHARED (spec: refcount > 1).  A sequence the spec cannot express within its
bounds (ENOSPC in the small spec) is *discarded*, never counted as a match.  Hypothesis
generates the sequences and shrinks a mismatch to a minimal operation list.

Units: ``seg`` is a 2 KiB segment index *within the file* (block ``seg // 2``), ``blk`` a
4 KiB block index, sizes in bytes unless named ``*_blocks``.
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field

from ...spec.designs import ALL_FAMILIES, DESIGNS, Design
from ...spec.model import DaxModel
from ...spec.state import SEGS, Bounds, file_name
from .compare import compare_contents, compare_extents, compare_maps, describe, expected_bytes
from .kernel import (
    BLOCK,
    OracleUnavailable,
    XfsMount,
    block_map,
    ficlone,
    shutdown_nologflush,
    unavailable_reason,
    writeback,
    xfs_mount,
)
from .ops import (
    SEG,
    Clone,
    CloneRange,
    Ctx,
    Discard,
    Falloc,
    Fsync,
    Mismatch,
    MStore,
    Op,
    OracleError,
    PunchHole,
    PWrite,
    Skip,
    Trunc,
    token_bytes,
)

__all__ = [
    "Op",
    "PWrite",
    "MStore",
    "Falloc",
    "PunchHole",
    "Clone",
    "CloneRange",
    "Fsync",
    "Trunc",
    "Outcome",
    "OracleSummary",
    "OracleError",
    "oracle_design",
    "run_sequence",
    "run_oracle",
    "sequences",
    "token_bytes",
    "xfs_mount",
    "unavailable_reason",
    "OracleUnavailable",
    "crash_experiment",
    "Ctx",
    "Discard",
    "Skip",
    "Mismatch",
    "SEG",
    "BLOCK",
    "compare_maps",
    "compare_contents",
    "compare_extents",
    "describe",
    "expected_bytes",
    "model_for",
]


def oracle_design(files: int = 3, blocks: int = 2, phys: int = 6) -> Design:
    """The design the kernel is compared with: cow-srcmap (CoW copies the head/tail from
    the source map) with every action family, ``shared_check='in-core'`` (XFS decides
    IOMAP_F_SHARED from the in-core refcount btree alone), at the given bounds (3 tokens,
    1 process)."""
    return DESIGNS["cow-srcmap"].variant(
        name="oracle-xfs",
        families=ALL_FAMILIES,
        shared_check="in-core",
        expect_violated=frozenset(),
        bounds=Bounds(files=files, blocks=blocks, phys=phys, tokens=3, procs=1, depth=60),
    )


_MODELS: dict = {}


def model_for(files: int, blocks: int, design=None) -> DaxModel:
    """The (cached) spec model of ``design(files, blocks)`` (a function returning a Design;
    default :func:`oracle_design`, looked up at each call) that sequences of ``files`` x
    ``blocks`` run on."""
    design = design or oracle_design
    key = (design, files, blocks)
    if key not in _MODELS:
        _MODELS[key] = DaxModel(design(files, blocks))
    return _MODELS[key]


# ----------------------------------------------------------------------------- runner
@dataclass
class Outcome:
    """Result of one sequence: ``status`` is 'match', 'mismatch' or 'discarded'; ``ops_run``
    counts ops executed on the kernel (skipped ops excluded); ``message`` says what differed
    (after which op) or why the sequence was discarded."""

    status: str
    ops_run: int
    message: str = ""


def run_sequence(root: str, files: int, blocks: int, ops, *, extents: bool = True) -> Outcome:
    """Run ``ops`` (a sequence of :class:`Op`) on fresh files a, b[, c] in directory
    ``root`` (on an XFS with reflink, 4 KiB blocks) and on the spec at ``files`` files of
    ``blocks`` blocks, comparing contents after every op and, with ``extents``, FIEMAP at
    the end.  Removes the files afterwards.  Raises OracleError for ops that do not fit the
    bounds; OSError only for failures to create/remove the files."""
    if files not in (2, 3) or blocks not in (1, 2, 3):
        raise OracleError(f"oracle runs 2-3 files of 1-3 blocks, not {files} x {blocks}")
    for op in ops:
        op.check(blocks, files)
    c = Ctx(model_for(files, blocks), root)
    paths = [os.path.join(root, file_name(f)) for f in range(files)]
    for p in paths:
        if os.path.lexists(p):
            os.unlink(p)
    c.fds = [os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644) for p in paths]
    done = 0
    try:
        for i, op in enumerate(ops):
            try:
                op.spec(c)
            except Skip:
                continue
            except Discard as e:
                return Outcome(
                    "discarded",
                    done,
                    f"op {i} {op}: spec cannot express {e} (ENOSPC at these bounds)",
                )
            try:
                op.kernel(c)
            except OSError as e:
                return Outcome(
                    "mismatch",
                    done + 1,
                    f"after op {i} {op}: kernel failed ({e}) where the spec succeeded",
                )
            done += 1
            try:
                compare_contents(c)
            except Mismatch as e:
                return Outcome("mismatch", done, f"after op {i} {op}: {e}")
        if extents:
            try:
                compare_extents(c)
            except Mismatch as e:
                return Outcome("mismatch", done, f"at the end: {e}")
        return Outcome("match", done)
    finally:
        for fd in c.fds:
            os.close(fd)
        for p in paths:
            if os.path.lexists(p):
                os.unlink(p)


def sequences(max_ops: int = 10):
    """Hypothesis strategy of ``(files, blocks, ops)``: 3 files of 2 blocks or 2 files of 3
    blocks, and a length drawn uniformly in 1..``max_ops`` (hypothesis alone favours very
    short lists), ops weighted towards writes."""
    from hypothesis import strategies as st

    @st.composite
    def strat(draw):
        files, blocks = draw(st.sampled_from(((3, 2), (2, 3))))
        fi = st.integers(0, files - 1)
        bl = st.integers(0, blocks - 1)
        tok = st.integers(1, 3)
        nseg = blocks * SEGS

        @st.composite
        def pwrite(d):
            g = d(st.integers(0, nseg - 1))
            return PWrite(d(fi), g, d(st.integers(1, min(3, nseg - g))), d(tok))

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

        op = st.one_of(
            pwrite(),
            pwrite(),
            st.builds(MStore, fi, st.integers(0, nseg - 1), tok),
            st.builds(Falloc, fi, bl),
            st.builds(PunchHole, fi, bl),
            clone(),
            clonerange(),
            st.builds(Fsync, fi),
            st.builds(Trunc, fi, st.integers(0, blocks)),
        )
        n = draw(st.integers(1, max_ops))
        return files, blocks, draw(st.lists(op, min_size=n, max_size=n))

    return strat()


MAX_RUNS = 1_000_000
"""Largest ``--runs`` (sequences) one oracle run accepts."""
MAX_OPS = 100
"""Largest ``--max-ops`` (operations per sequence)."""


def hypothesis_home() -> None:
    """Point hypothesis's storage directory at the user's cache (``$XDG_CACHE_HOME`` or
    ``~/.cache``, ``daxcheck/hypothesis``) so that no ``.hypothesis/`` folder appears in the
    directory daxcheck is run from."""
    from hypothesis.configuration import set_hypothesis_home_dir

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    set_hypothesis_home_dir(os.path.join(base, "daxcheck", "hypothesis"))


@dataclass
class OracleSummary:
    """What :func:`run_oracle` did: ``sequences`` run (generated, including shrinking
    replays), ``operations`` run on the kernel, ``matched`` / ``discarded`` sequences,
    ``mismatches``: one ``(minimal op list as strings, message)`` per mismatch found (after
    shrinking), ``seconds`` of wall time."""

    sequences: int = 0
    operations: int = 0
    matched: int = 0
    discarded: int = 0
    mismatches: list = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """A human-readable report, one line per item."""
        out = [
            f"kernel oracle: {self.sequences} sequences, {self.operations} operations, "
            f"{self.matched} matched, {self.discarded} discarded (spec bounds), "
            f"{len(self.mismatches)} mismatch{'es' if len(self.mismatches) != 1 else ''} "
            f"in {self.seconds:.1f}s"
        ]
        for ops, msg in self.mismatches:
            out.append(f"MISMATCH: {msg}")
            out.extend(f"  {i}. {o}" for i, o in enumerate(ops))
        return out


def run_oracle(
    mountpoint: str | os.PathLike | None, runs: int, seed: int, max_ops: int = 10
) -> OracleSummary:
    """Differential test: hypothesis generates sequences (seeded with ``seed``) until
    ``runs`` of them were not discarded, runs each with :func:`run_sequence` in directory
    ``mountpoint`` (an XFS with reflink; None: a temporary :func:`xfs_mount`), and shrinks
    the first mismatch to a minimal op list.  Returns an :class:`OracleSummary`.  Raises
    OracleError for ``runs`` < 1 or a mountpoint that is not a directory, OracleUnavailable
    when a temporary mount cannot be made."""
    if not isinstance(runs, int) or isinstance(runs, bool) or not 1 <= runs <= MAX_RUNS:
        raise OracleError(f"runs={runs!r} is not an int in 1..{MAX_RUNS}")
    if not isinstance(max_ops, int) or isinstance(max_ops, bool) or not 1 <= max_ops <= MAX_OPS:
        raise OracleError(f"max-ops={max_ops!r} is not an int in 1..{MAX_OPS}")
    if mountpoint is None:
        with xfs_mount() as m:
            return run_oracle(m.path, runs, seed, max_ops)
    root = os.fspath(mountpoint)
    if not os.path.isdir(root):
        raise OracleError(f"oracle directory {root} does not exist")
    hypothesis_home()
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import seed as hseed

    summary = OracleSummary()
    last_fail: list = []
    t0 = time.monotonic()

    @hseed(seed)
    @settings(
        max_examples=runs,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )
    @given(sequences(max_ops))
    def prop(seq):
        files, blocks, ops = seq
        out = run_sequence(root, files, blocks, ops)
        summary.sequences += 1
        summary.operations += out.ops_run
        if out.status == "discarded":
            summary.discarded += 1
            assume(False)
        if out.status == "mismatch":
            last_fail[:] = [[str(o) for o in ops], out.message]
            raise AssertionError(out.message)
        summary.matched += 1

    try:
        prop()
    except AssertionError:
        if last_fail:
            summary.mismatches.append(tuple(last_fail))
        else:  # pragma: no cover - hypothesis internal failure
            raise
    summary.seconds = time.monotonic() - t0
    return summary


# ----------------------------------------------------------------------------- crash
def crash_experiment(mnt: XfsMount) -> dict:
    """The in-core-refcount crash scenario of design cow-in-core-refcount, on the kernel.

    On ``mnt`` (a mounted scratch XFS from :func:`xfs_mount`; it is shut down and
    remounted):

    1. a := 4 KiB of t1, fdatasync(a);
    2. FICLONE a -> b, fdatasync(a) (the shared map is in the log);
    3. pwrite 2 KiB of t2 at offset 0 of a, sync_file_range(WRITE|WAIT) (buffered CoW:
       writeback writes the CoW block and xfs_reflink_end_cow remaps a in a transaction
       that is committed in memory only; no log force);
    4. O_DIRECT pwrite 4 KiB of t3 at offset 0 of b (if the in-core refcount says b's block
       is no longer shared, XFS overwrites it in place; the data reaches the disk);
    5. XFS_IOC_GOINGDOWN with NOLOGFLUSH (``xfs_io -x -c shutdown``), umount, mount (log
       recovery), read a and b.

    Returns a dict with FIEMAP of a and b after each step (``(phys block, shared,
    unwritten)`` per block), the contents after recovery (segment names as in mismatch
    reports: ``[t1 t1]``) and ``b_in_place`` (step 4 did not move b's block)."""
    root = mnt.path
    pa, pb = os.path.join(root, "crash-a"), os.path.join(root, "crash-b")
    obs: dict = {"steps": []}

    def snap(tag, fa, fb):
        obs["steps"].append((tag, block_map(fa, 1, sync=False), block_map(fb, 1, sync=False)))

    _crash_steps(pa, pb, obs, snap)
    shutdown_nologflush(root)
    mnt.remount()
    fa = os.open(pa, os.O_RDONLY)
    fb = os.open(pb, os.O_RDONLY)
    try:
        snap("after shutdown(NOLOGFLUSH) + remount (log recovery)", fa, fb)
        obs["after_recovery"] = {
            "a": describe(os.pread(fa, BLOCK + 1, 0)),
            "b": describe(os.pread(fb, BLOCK + 1, 0)),
        }
    finally:
        os.close(fa)
        os.close(fb)
    return obs


def _crash_steps(pa: str, pb: str, obs: dict, snap) -> None:
    """Steps 1-4 of :func:`crash_experiment` on files ``pa`` and ``pb``, recording FIEMAP
    after each with ``snap(tag, fd_a, fd_b)`` and, in ``obs``, ``b_in_place`` and the
    contents before the crash."""
    fa = os.open(pa, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    fb = os.open(pb, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.pwrite(fa, token_bytes(1) * 2, 0)
        os.fdatasync(fa)
        snap("write a t1 + fdatasync", fa, fb)
        ficlone(fa, fb)
        os.fdatasync(fa)
        snap("ficlone a->b + fdatasync", fa, fb)
        os.pwrite(fa, token_bytes(2), 0)
        writeback(fa, 0, BLOCK)
        snap("pwrite a[0:2K] t2 + sync_file_range (CoW remap, no log force)", fa, fb)
        fd_direct = os.open(pb, os.O_RDWR | os.O_DIRECT)
        try:
            buf = mmap.mmap(-1, BLOCK)  # page-aligned buffer for O_DIRECT
            buf.write(token_bytes(3) * 2)
            os.pwritev(fd_direct, [buf], 0)
            buf.close()
        finally:
            os.close(fd_direct)
        snap("O_DIRECT pwrite b[0:4K] t3", fa, fb)
        obs["b_in_place"] = obs["steps"][-1][2][0][0] == obs["steps"][-2][2][0][0]
        obs["before_crash"] = {
            "a": describe(os.pread(fa, BLOCK, 0)),
            "b": describe(os.pread(fb, BLOCK, 0)),
        }
    finally:
        os.close(fa)
        os.close(fb)
