"""``daxcheck query``: byte-offset questions asked to Z3 over the kernel's own arithmetic.

The state machine abstracts a 4 KiB block into two 2 KiB segments and a PMD into
``blocks`` pages, so the explicit engine only *samples* offsets (segment 0 or 1, index 0
or 1).  The queries here take the byte arithmetic of the kernel code itself over 64-bit
``loff_t`` values and ask Z3 either for concrete offsets and lengths that break it, or
for a proof that none exist.  Each query is named after the design it checks and has an
``expect`` ("sat" = offending values exist, "unsat" = none) taken from the seed thread,
which the tests compare with what Z3 computes.

All Z3 use goes through :mod:`daxcheck.checker.symbolic.smt` (64-bit bit-vector helpers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..results import did_you_mean
from . import smt
from .smt import Result

PAGE_SIZE = 4096
PMD_SIZE = 2 * 1024 * 1024
LLONG_MAX = (1 << 63) - 1


class QueryError(ValueError):
    """Unknown query name or a bad time limit; the message names it."""


@dataclass
class QueryResult:
    """The answer of one query.

    status: "sat" (offending values exist; ``values`` holds one or more examples as
    ``{name: int}`` dicts), "unsat" (proved that none exist; ``proof`` says what was
    proved), or "unknown" (solver gave up / time limit; never a pass).  ``seconds``.
    """

    name: str
    status: str
    expect: str
    values: list = field(default_factory=list)
    proof: str = ""
    reason: str = ""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """Printable report lines."""
        out = [f"{self.name}: {self.status} (expected {self.expect}, {self.seconds:.2f}s)"]
        if self.status == "sat":
            for i, v in enumerate(self.values, 1):
                out.append(f"  example {i}: " + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()))
        if self.proof:
            out.append(f"  {self.proof}")
        if self.status == "unknown":
            out.append(f"  solver answered unknown ({self.reason}); this is not a pass")
        return out


def _fmt(x: int) -> str:
    return f"{x} ({x:#x})" if x >= 4096 else str(x)


@dataclass
class Query:
    """A named byte-arithmetic question.

    ``build()`` returns ``(variables, constraints, shown, proof)``: a dict of named 64-bit
    variables, the constraints whose satisfiability means "offending values exist", the
    names to print, and the statement that unsat proves.  ``expect``: "sat" or "unsat".
    """

    name: str
    doc: str
    expect: str
    build: Callable
    design: str = ""

    def __post_init__(self):
        self.__doc__ = self.doc

    def run(self, time_limit: float | None = 30.0, examples: int = 3) -> QueryResult:
        """Ask Z3.  Up to ``examples`` distinct offending assignments are collected when
        sat (each new one must differ in the first shown variable; values below 8 MiB are
        preferred).  Raises QueryError for
        a bad time limit."""
        try:
            deadline = smt.Deadline(time_limit)
        except ValueError as e:
            raise QueryError(str(e)) from None
        vars_, cons, shown, proof = self.build()
        s = smt.Solver(deadline)
        s.add(*cons)
        # Prefer readable examples: first look below 8 MiB, then anywhere.
        small = smt.conj([smt.ule(vars_[k], smt.u64_val(8 << 20)) for k in shown])
        found = []
        total = 0.0
        status, reason = "unsat", ""
        while len(found) < examples:
            out = s.check(small)
            if out.result is Result.CONFIRMED:
                out = s.check()
            total += out.seconds
            if out.result is Result.UNKNOWN:
                if not found:
                    status, reason = "unknown", out.reason
                break
            if out.result is Result.CONFIRMED:
                break
            status = "sat"
            found.append({k: out.value(vars_[k]) for k in shown})
            s.add(vars_[shown[0]] != smt.u64_val(found[-1][shown[0]]))
        return QueryResult(
            self.name, status, self.expect, found, proof if status == "unsat" else "", reason, total
        )


QUERIES: dict[str, Query] = {}


def register_query(q: Query) -> Query:
    """Add a query to :data:`QUERIES`; raises QueryError if the name is taken."""
    if q.name in QUERIES:
        raise QueryError(f"query {q.name} is already registered")
    QUERIES[q.name] = q
    return q


def get_query(name: str) -> Query:
    """The query called ``name``; raises QueryError listing the known names."""
    try:
        return QUERIES[name]
    except KeyError:
        raise QueryError(
            f"unknown query {name!r}{did_you_mean(name, QUERIES)} (known: {', '.join(QUERIES)})"
        ) from None


def run_queries(names=None, time_limit: float | None = 30.0) -> list[QueryResult]:
    """Run the named queries (default: all) and return their results in order."""
    return [get_query(n).run(time_limit) for n in (names or list(QUERIES))]


# --------------------------------------------------------------------------- seed 003: CoW
def _cow_write(copy: str):
    """A write(2) of ``len`` bytes at ``pos`` to a shared (reflinked) range, CoW'd into
    newly allocated blocks covering ``[round_down(pos), round_up(pos+len))``; ``off`` is a
    byte of those new blocks.  Offending: ``off`` is neither written by the write nor
    filled by the CoW copy."""
    u = smt.u64
    pos, ln, off = u("pos"), u("len"), u("byte")
    mask = smt.u64_val(PAGE_SIZE - 1)
    end = pos + ln
    start = pos & ~mask  # first byte of the first new block
    pg_end = (end + mask) & ~mask  # round_up(end, PAGE_SIZE)
    cons = [
        smt.ult(smt.u64_val(0), ln),  # a non-empty write
        smt.ule(pos, smt.u64_val(LLONG_MAX - 2 * PAGE_SIZE)),  # loff_t, no overflow
        smt.ule(ln, smt.u64_val(1 << 40)),
        smt.ule(start, off),
        smt.ult(off, pg_end),
    ]  # a byte of the new blocks
    written = smt.conj([smt.ule(pos, off), smt.ult(off, end)])
    if copy == "single-iomap":
        # IOMAP_F_COW through one iomap (2019 btrfs/dax series): the actor writes
        # [pos, end) into the new blocks; nothing copies the rest of the first and last
        # page from the source extent.
        filled = smt.z3.BoolVal(False)  # noqa: FBT003
    else:
        # dax_iomap_copy_around (fs/dax.c, 5.19+; dax_iomap_cow_copy before 6.0):
        #   head_off = pos & (align_size - 1); end = pos + length;
        #   pg_end = round_up(end, align_size);
        #   copy_all = head_off == 0 && end == pg_end;
        #   if (copy_all) copy [0, length) ... else
        #   if (head_off) copy (or zero, zero_edge) daddr[0, head_off);
        #   if (end < pg_end) copy (or zero) daddr[head_off + length, +pg_end - end).
        # Offsets are relative to daddr = the first new block (start).
        head_off = pos & mask
        rel = off - start
        copy_all = smt.conj([head_off == 0, end == pg_end])
        head = smt.conj([head_off != 0, smt.ult(rel, head_off)])
        tail_off = head_off + ln
        tail = smt.conj(
            [smt.ult(end, pg_end), smt.ule(tail_off, rel), smt.ult(rel, tail_off + (pg_end - end))]
        )
        whole = smt.conj([copy_all, smt.ult(rel, ln)])
        filled = smt.disj([whole, head, tail])
    cons.append(smt.neg(smt.disj([written, filled])))
    return (
        {"pos": pos, "len": ln, "byte": off},
        cons,
        ["pos", "len", "byte"],
        "every byte of the new blocks [round_down(pos), round_up(pos+len)) is either "
        "written or copied/zeroed by dax_iomap_copy_around, for every pos and len",
    )


register_query(
    Query(
        "cow-single-iomap",
        "Seed 003: an unaligned write to a reflinked block under a single IOMAP_F_COW iomap: "
        "which write offsets/lengths leave bytes of the new block neither written nor copied "
        "(exposing the CoW block's stale contents)?",
        "sat",
        lambda: _cow_write("single-iomap"),
        "cow-single-iomap",
    )
)

register_query(
    Query(
        "cow-srcmap",
        "Seed 003: the same write with a source map and dax_iomap_copy_around's head_off/pg_end "
        "arithmetic: prove no byte of the new blocks is left unfilled.",
        "unsat",
        lambda: _cow_write("srcmap"),
        "cow-srcmap",
    )
)


# --------------------------------------------------------------------------- seed 000: hole
def _pmd_hole(report: str):
    """A read PMD fault at file offset ``fault`` (dax_iomap_pmd_fault): the PMD-aligned
    range ``[pmd, pmd + PMD_SIZE)`` with ``pmd = fault & ~(PMD_SIZE-1)``; the file has a
    hole from ``hole_start`` (page aligned, <= fault) to ``hole_end`` (page aligned, the
    start of the next written extent) and ``i_size`` >= ``pmd + PMD_SIZE`` (the PMD lies
    within EOF: ``(pgoff | PG_PMD_COLOUR) < max_pgoff``).  ->iomap_begin is asked for
    ``[pmd, pmd + PMD_SIZE)`` and reports the hole's length; the fault installs the PMD zero
    page iff ``iomap_length >= PMD_SIZE`` (else VM_FAULT_FALLBACK).  Offending: the zero
    page is installed over a range that reaches the written extent."""
    u = smt.u64
    fault, hole_start, hole_end, isize = u("fault"), u("hole_start"), u("hole_end"), u("i_size")
    pm = smt.u64_val(PMD_SIZE - 1)
    pg = smt.u64_val(PAGE_SIZE - 1)
    pmd = fault & ~pm
    PMD = smt.u64_val(PMD_SIZE)
    lim = smt.u64_val(1 << 50)
    cons = [
        smt.ule(isize, lim),
        smt.ule(hole_end, lim),
        hole_start & pg == 0,
        hole_end & pg == 0,
        smt.ule(hole_start, pmd),
        smt.ule(pmd, fault),
        smt.ule(hole_start, fault),
        smt.ult(fault, hole_end),  # the faulting page is in the hole
        smt.ult(hole_end, isize),  # a written extent follows
        smt.ule(pmd + PMD, isize),
    ]  # PMD within EOF
    if report == "unknown":
        # ext2/ext4 get_block: an unmapped buffer_head keeps b_size = the requested length.
        length = PMD
    else:
        # iomap: the hole's real length from pmd, capped at the request.
        left = hole_end - pmd
        length = smt.ite(smt.ult(left, PMD), left, PMD)
    installed = smt.ule(PMD, length)
    overlaps = smt.ult(hole_end, pmd + PMD)
    cons += [installed, overlaps]
    return (
        {
            "fault": fault,
            "pmd": pmd,
            "hole_start": hole_start,
            "hole_end": hole_end,
            "i_size": isize,
        },
        cons,
        ["pmd", "fault", "hole_end", "hole_start", "i_size"],
        "no PMD-aligned zero-page range installed by a read fault overlaps the written "
        "extent after the hole, for every fault offset, hole and file size",
    )


register_query(
    Query(
        "hole-size-unknown",
        "Seed 000: PMD-aligned (2 MiB) read-fault ranges that overlap an extent boundary when "
        "the filesystem reports the requested length instead of the hole length (get_block).",
        "sat",
        lambda: _pmd_hole("unknown"),
        "hole-size-unknown",
    )
)

register_query(
    Query(
        "iomap-hole-size",
        "Seed 000: the same fault when ->iomap_begin reports the true hole length: prove no "
        "zero PMD covers a written extent.",
        "unsat",
        lambda: _pmd_hole("iomap"),
        "iomap-hole-size",
    )
)
