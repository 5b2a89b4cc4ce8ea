"""Terminal reporting with rich: verdict tables, counterexamples as per-step diffs,
statistics and progress.  Only this module and the CLI import rich."""

from __future__ import annotations

import io
import os
import shlex
import textwrap
import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from daxcheck.properties import LEMMAS, PROPERTIES

from .results import HOLDS, INCOMPLETE, NOT_FOUND, VIOLATED


def make_console(*, stderr=False) -> Console:
    """A console for the CLI: a terminal's own width; when output goes to a file or a CI
    log, the width in ``COLUMNS`` if set, else 120 (rich would assume 80)."""
    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c = Console(stderr=stderr, highlight=False, width=120)
    return c


LEGEND = (
    "ok = holds up to the depth bound; ok* = holds in the whole reachable space; "
    "✗N = violated, shortest counterexample N steps; ? = incomplete (budget or Ctrl-C); "
    "nf = no random walk violated it (simulate: not a pass); - = not checked"
)
"""What the cells of the verdict table mean."""


def _cell(v) -> Text:
    if v is None:
        return Text("-", style="dim")
    if v.status == VIOLATED:
        return Text(f"✗{v.depth}", style="bold red")
    if v.status == INCOMPLETE:
        return Text("?", style="yellow")
    if v.status == NOT_FOUND:
        return Text("nf", style="dim")
    return Text("ok*" if v.complete else "ok", style="green")


def prop_labels(prop_names) -> dict:
    """Stable column labels of the verdict table, ``{property name: label}``: a shipped
    invariant is ``P<n>`` by its place among the shipped invariants (the same in every run,
    whichever are checked), a user's invariant ``U<n>`` by its place among the user
    invariants registered in this run, a lemma ``L<n>`` by its place among the lemmas; any
    other name is shown as itself."""
    shipped = [n for n, p in PROPERTIES.items() if p.origin == "shipped"]
    user = [n for n, p in PROPERTIES.items() if p.origin != "shipped"]
    out = {}
    for n in prop_names:
        if n in shipped:
            out[n] = f"P{shipped.index(n) + 1}"
        elif n in user:
            out[n] = f"U{user.index(n) + 1}"
        elif n in LEMMAS:
            out[n] = f"L{list(LEMMAS).index(n) + 1}"
        else:
            out[n] = n
    return out


def _bare_table(title: str | None) -> Table:
    """The verdict tables' layout: a head rule, no edges, no padding (so rows fit 80
    columns), ``title`` on the left."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 0),
    )


def _verdict_table(checks, prop_names, cols, *, stats: bool, title: str | None) -> Table:
    t = _bare_table(title)
    t.add_column("design", overflow="fold")
    t.add_column("seed", justify="center")
    labels = prop_labels(prop_names)
    for i in cols:
        t.add_column(labels[prop_names[i]], justify="center", no_wrap=True)
    if stats:
        t.add_column("states", justify="right", no_wrap=True)
        t.add_column("depth", justify="right", no_wrap=True)
        t.add_column("time", justify="right", no_wrap=True)
    for c in checks:
        r = c.result
        row = [
            Text(str(r.design)),
            Text(str(c.model.design.seed)),
            *[_cell(r.verdicts.get(prop_names[i])) for i in cols],
        ]
        if stats:
            row += [
                f"{r.stats.states:,}" if r.stats.states else "(z3)",
                str(depth_reached(c)),
                f"{r.stats.seconds:.1f}s",
            ]
        t.add_row(*row)
    return t


def depth_reached(check) -> int:
    """The depth a design's search reached: the deepest level explored (or, when every
    property was violated early, the deepest counterexample), never more than the bound."""
    r = check.result
    deepest = max((v.depth for v in r.verdicts.values() if v.depth is not None), default=0)
    return min(check.model.bounds.depth, max(r.stats.depth or 0, deepest))


def _compact_table(checks, prop_names, title: str | None) -> Table:
    """One row per design for a narrow terminal: under "all" the verdict most of its
    properties share and under "but" every other property as label + verdict (``P3✗5``),
    read as "all ok but P3✗5"."""
    t = _bare_table(title)
    t.add_column("design", overflow="fold")
    t.add_column("seed", justify="center", no_wrap=True)
    t.add_column("all", justify="left", no_wrap=True)
    t.add_column("but", overflow="fold")
    t.add_column("states", justify="right", no_wrap=True)
    t.add_column("depth", justify="right", no_wrap=True)
    t.add_column("time", justify="right", no_wrap=True)
    labels = prop_labels(prop_names)
    for c in checks:
        r = c.result
        cells = [_cell(r.verdicts.get(p)) for p in prop_names]
        plain = [x.plain for x in cells]
        common = max(plain, key=lambda x: (plain.count(x), x.startswith("ok"))) if plain else "-"
        rest = Text()
        for p, cell in zip(prop_names, cells):
            if cell.plain != common:
                if rest:
                    rest.append(" ")
                rest.append(labels[p]).append(cell)
        head = next(x for x in cells if x.plain == common) if cells else Text("-")
        t.add_row(
            Text(str(r.design)),
            Text(str(c.model.design.seed)),
            head,
            rest,
            f"{r.stats.states:,}" if r.stats.states else "(z3)",
            str(depth_reached(c)),
            f"{r.stats.seconds:.1f}s",
        )
    return t


COMPACT_LEGEND = "all ... but: every property has the verdict under 'all' but those listed"
"""What the two verdict columns of the compact table mean."""


def verdict_tables(checks, prop_names, width: int = 80) -> list:
    """The design x property verdict matrix as renderables that fit ``width`` columns with
    nothing cut, one row per design: designs as rows, properties as columns keyed by stable
    labels (:func:`prop_labels`: P1..P14 for the shipped invariants in every run, U1.. for a
    user's, L1.. for lemmas; a legend names them and the cells), then the states, the depth
    reached (:func:`depth_reached`) and the time of each design.  When the matrix is wider
    than ``width`` (14 properties need about 110 columns) the table is compact instead: per
    design the verdict most of its properties share ("all") and each other property as
    label + verdict ("but": ``P3✗5 P9✗3``), so 54 designs still take 54 rows at 80
    columns.  Cells: "ok" (holds to the depth bound), "ok*" (whole reachable space), "✗N"
    (violated, shortest counterexample N steps), "?" (incomplete), "nf" (a simulation found
    no violation), "-" (not checked).  Returns ``[Table, Text legend]``."""
    measure = Console(width=10_000, file=io.StringIO())
    labels = prop_labels(prop_names)
    full = _verdict_table(
        checks, prop_names, range(len(prop_names)), stats=True, title="daxcheck verdicts"
    )
    compact = measure.measure(full).maximum > width
    table = _compact_table(checks, prop_names, "daxcheck verdicts") if compact else full
    lines = [""]
    for p in prop_names:  # "P1 name" entries packed, never split
        entry = f"{labels[p]} {p}"
        if lines[-1] and len(lines[-1]) + 2 + len(entry) > width:
            lines.append("")
        lines[-1] += ("  " if lines[-1] else "") + entry
    legend = LEGEND if not compact else COMPACT_LEGEND + "; " + LEGEND
    return [table, Text(textwrap.fill(legend, width) + "\n" + "\n".join(lines), style="dim")]


def run_summary(
    checks,
    prop_names,
    differences,
    written,
    user_flags=(),
    out_dir=None,
    designs_asked=None,
    *,
    expect=False,
) -> list:
    """The closing summary of ``daxcheck check``, as ``[(rich style, plain line)]``: the
    unexpected results first (``differences``: :func:`~daxcheck.checker.gate.expect_differences`,
    a design whose violations differ from its ``expect_violated``), the incomplete designs
    (a budget, Ctrl-C), how many designs are broken as expected and how many hold every
    property, where the counterexamples are (``written``: ``{(design, property): path}``;
    ``out_dir`` None: not written), then the next commands (a shell assignment ``t=TRACE`` of
    the first trace, then view, replay, check --design; list properties without a trace), carrying ``user_flags`` (``["--designs", F, ...]``) where they are needed.
    ``designs_asked``: how many designs the run was to check (more than ``checks`` after
    Ctrl-C); ``expect``: the run is ``--expect`` (a one-line verdict on expectations)."""
    out = []
    n = len(checks)
    secs = sum(c.result.stats.seconds for c in checks)
    out.append(
        (
            "bold",
            f"summary: {n} design{'s' if n != 1 else ''} x {len(prop_names)} "
            f"propert{'ies' if len(prop_names) != 1 else 'y'} in {secs:.1f}s",
        )
    )
    stopped = [c for c in checks if c.result.stats.stopped]
    differences = [
        d
        for d in differences  # an incomplete design is listed below
        if not d.computed.startswith("incomplete for")
    ]
    bad = {d.design for d in differences}
    out += _unsettled_lines(checks, differences, stopped, designs_asked)
    out += _settled_lines(checks, bad, stopped, differences, expect)
    out += vacuous_lines(checks, prop_names)
    files = list(written.values())
    if out_dir is None:
        out.append(("dim", "  counterexamples: not written (--no-write)"))
    elif files:
        out.append(("", f"  counterexamples: {len(files)} trace(s) in {out_dir}/"))
    if not files and not any(c.traces for c in checks):
        out.append(("dim", "next: daxcheck list properties   (what each property means)"))
        return out
    return out + _next_commands(checks, written, files, bad, user_flags)


def _unsettled_lines(checks, differences, stopped, designs_asked) -> list:
    """The summary lines of :func:`run_summary` for what is not settled: each unexpected
    result, an interrupted run, the incomplete designs."""
    out = []
    for d in differences:
        out.append(
            ("red", f"  unexpected: {d.design}: {d.computed} (expected violations: {d.manifest})")
        )
    n = len(checks)
    asked = designs_asked if designs_asked is not None else n
    if asked > n:
        out.append(
            (
                "yellow",
                f"  interrupted (Ctrl-C): {n} of {asked} designs checked; the run is incomplete",
            )
        )
    if stopped:
        out.append(
            (
                "yellow",
                f"  incomplete: {len(stopped)} design(s): "
                + ", ".join(f"{c.result.design} ({c.result.stats.stopped})" for c in stopped[:4])
                + (", ..." if len(stopped) > 4 else ""),
            )
        )
    return out


def _settled_lines(checks, bad, stopped, differences, expect) -> list:
    """The "as expected" line of :func:`run_summary` and, for ``--expect``, its verdict."""
    settled = [c for c in checks if c.result.design not in bad and c not in stopped]
    broken = [c for c in settled if any(v.status == VIOLATED for v in c.result.verdicts.values())]
    out = [
        (
            "",
            f"  as expected: {len(broken)} broken as expect_violated says, "
            f"{len(settled) - len(broken)} hold every property checked",
        )
    ]
    if expect:
        out.append(
            ("red", "  --expect: some verdicts differ from the designs' expectations")
            if differences
            else ("green", "  --expect: all verdicts match the designs' expectations exactly")
        )
    return out


def vacuous_lines(checks, prop_names) -> list:
    """``[(style, line)]``: the properties that "hold (vacuous: why)" in some design
    (:attr:`~daxcheck.checker.results.Verdict.vacuous`: the run's scope is below what the
    property needs, or its antecedent never fired): for at most three designs each with its
    reason and designs, else one short line of labels and design counts (the JSON results
    give every reason); no line when none is vacuous."""
    labels = prop_labels(prop_names)
    by: dict = {}
    for c in checks:
        for p in prop_names:
            v = c.result.verdicts.get(p)
            if v is not None and v.status == HOLDS and v.vacuous:
                by.setdefault((p, v.vacuous), []).append(c.result.design)
    if not by:
        return []
    entries = sorted(by.items(), key=lambda kv: prop_names.index(kv[0][0]))
    if len(checks) > 3:
        counts: dict = {}
        for (p, _), designs in entries:
            counts[p] = counts.get(p, 0) + len(designs)
        what = ", ".join(f"{labels[p]} in {n}" for p, n in counts.items())
        return [("yellow", f"  vacuous holds (--json says why): {what}")]
    parts = [
        f"{labels[p]} {p} holds (vacuous: {why}) in {', '.join(designs)}"
        for (p, why), designs in entries
    ]
    return [("yellow", "  vacuous: " + "; ".join(parts))]


def _next_commands(checks, written, files, bad, user_flags) -> list:
    """The "next:" lines of :func:`run_summary` (``[(rich style, plain line)]``): the first
    trace (of an unexpected design if any) as ``next: t=TRACE``, then view, replay and check
    --design (list properties when no trace was written), with ``user_flags`` where they are needed; ``bad``: the
    designs with unexpected results."""
    out = []
    first = next((written[k] for k in written if k[0] in bad), files[0] if files else None)
    q = " ".join(shlex.quote(x) for x in user_flags)
    if first:  # the trace path once, so every command fits 80 columns and stays whole
        out.append(("bold", f"next: t={shlex.quote(first)}"))
        out.append(("", '  daxcheck view "$t" --html trace.html   (draw it as a web page)'))
        out.append(
            (
                "",
                f'  daxcheck replay "$t"{" " + q if q else ""}'
                f"   (re-run it on the spec and on pmem bytes)",
            )
        )
    design = next((c.result.design for c in checks if c.result.design in bad), None) or next(
        (c.result.design for c in checks if c.traces), None
    )
    if design and len(checks) > 1:
        out.append(
            (
                "",
                f"  daxcheck check --design {shlex.quote(design)}"
                f"{' ' + q if q else ''}   (its traces step by step)",
            )
        )
    if not first:  # with a trace the legend above names the properties already
        out.append(("bold", "next:"))
        out.append(
            ("", f"  daxcheck list properties{' ' + q if q else ''}   (what each property means)")
        )
    return out


def difference_table(differences, title: str) -> Table:
    """The gate's differences (:class:`~daxcheck.checker.gate.Difference`), one row each:
    design, property, what differs, the manifest's value and the computed one.  ``title``
    and the cells are plain text (no rich markup: they hold paths and names)."""
    t = Table(title=Text(title), title_justify="left")
    for col in ("design", "property", "what", "manifest", "computed"):
        t.add_column(col, overflow="fold")
    for d in differences:
        t.add_row(
            Text(d.design),
            Text(d.prop or "-"),
            Text(d.what),
            Text(d.manifest),
            Text(d.computed, style="red"),
        )
    return t


def trace_table(trace, model, title: str) -> Table:
    """A counterexample as a table of steps showing only the fields each step changed
    (ghost fields dimmed).  ``title`` is plain text (no rich markup)."""
    L = model.L
    t = Table(title=Text(title), title_justify="left", show_lines=True)
    t.add_column("#", justify="right")
    t.add_column("action")
    t.add_column("changed fields")
    prev = trace.states[0]
    t.add_row(
        "0",
        Text("init", style="dim"),
        Text("empty files, nothing mapped, media stale", style="dim"),
    )
    for n, (a, s) in enumerate(zip(trace.actions, trace.states[1:]), 1):
        lines = Text()
        for o in range(L.width):
            if s[o] != prev[o]:
                name = L.field_at(o)[0]
                style = "dim" if name.startswith("ghost") else ""
                if lines:
                    lines.append("\n")
                lines.append(f"{L.label(o)}: {L.show(o, prev[o])} → {L.show(o, s[o])}", style=style)
        if not lines:
            lines = Text("(no change)", style="dim")
        t.add_row(str(n), Text(a.describe()), lines)
        prev = s
    return t


def stats_line(check) -> str:
    """One line of statistics for a check."""
    st = check.result.stats
    fired = ", ".join(f"{k} {v:,}" for k, v in sorted(st.fired.items()))
    line = (
        f"{check.model.design.name}: {st.states:,} distinct states, {st.transitions:,} "
        f"transitions, depth {st.depth}, {st.seconds:.2f}s, {st.rate:,.0f} states/s; "
        f"fired: {fired}"
    )
    if st.symmetry is not None:
        line += f"; symmetry: {st.symmetry}"
    if getattr(st, "por", None) is not None:
        line += f"; partial-order reduction: {st.por}"
    if st.collision_probability is not None:
        line += (
            f"; fingerprints: probability {st.collision_probability:.1e} that a "
            f"collision hid a state (--exact to rule it out)"
        )
    if st.stopped:
        line += f"; stopped: {st.stopped}"
    return line


class Progress:
    """A progress callback for an engine (called with :class:`~daxcheck.checker.results.Stats`
    a few times a second).  On a terminal: a transient rich.progress line (spinner, states,
    depth, rate, elapsed, and a bar with the time remaining when the bound makes it
    computable) for runs that last over a second.  Otherwise (a CI log, a file): a plain
    line every ``every`` seconds, like TLC's ``Progress(depth)`` lines, e.g.
    ``Progress(4) cow-srcmap: 81,234 distinct states, 30,112 states/s, 2.7s``, ending with
    ``, ETA 12s`` when computable.  ``time_limit`` (seconds) bounds the run; ``walks`` is
    the number of random walks a simulation runs (done / total gives its ETA)."""

    def __init__(
        self,
        console: Console,
        label: str,
        every: float = 5.0,
        clock=time.perf_counter,
        time_limit: float | None = None,
        walks: int | None = None,
    ):
        self.console, self.label, self.every, self.clock = console, label, every, clock
        self.time_limit, self.walks = time_limit, walks
        self.start = self.last = clock()
        self.bar = self.task = None

    def eta(self, stats) -> float | None:
        """Seconds left, when the bound makes it computable: the walks still to run at the
        rate so far (a simulation), at most what is left of the time limit; None for a
        breadth-first search without a time limit (its levels grow unpredictably)."""
        left = None
        done = getattr(stats, "walks", 0)
        if self.walks and done and stats.seconds > 0:
            left = stats.seconds * (self.walks - done) / done
        if self.time_limit is not None:
            cap = max(0.0, self.time_limit - stats.seconds)
            left = cap if left is None else min(left, cap)
        return left

    def _fraction(self, stats) -> float | None:
        left = self.eta(stats)
        if left is None:
            return None
        return stats.seconds / (stats.seconds + left) if stats.seconds + left > 0 else 1.0

    def text(self, stats) -> str:
        """The progress line for ``stats``."""
        left = self.eta(stats)
        eta = f", ETA {left:.0f}s" if left is not None else ""
        if stats.states:
            return (
                f"Progress({stats.depth}) {self.label}: {stats.states:,} distinct states, "
                f"{stats.rate:,.0f} states/s, {stats.seconds:.1f}s{eta}"
            )
        return (
            f"Progress({stats.depth}) {self.label}: depth {stats.depth} done, "
            f"{stats.seconds:.1f}s{eta}"
        )

    def __call__(self, stats) -> None:
        now = self.clock()
        if not self.console.is_terminal:
            if now - self.last >= self.every:
                self.console.print(
                    self.text(stats), markup=False, highlight=False, crop=False, soft_wrap=True
                )
                self.last = now
            return
        if now - self.start < 1.0:
            return
        frac = self._fraction(stats)
        if self.bar is None:
            from rich.progress import (
                BarColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as Bar,
            )

            cols = [
                SpinnerColumn(),
                TextColumn("{task.description}", style="cyan"),
                TimeElapsedColumn(),
            ]
            if frac is not None:
                cols += [BarColumn(bar_width=20), TimeRemainingColumn()]
            self.bar = Bar(*cols, console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(
                self.text(stats), total=None if frac is None else 1.0, completed=frac or 0.0
            )
        else:
            self.bar.update(
                self.task,
                description=self.text(stats),
                **({} if frac is None else {"completed": frac}),
            )

    def close(self) -> None:
        """Remove the terminal progress line (if any)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
