"""Terminal reporting with rich: verdict tables, counterexamples as per-step diffs,
statistics and progress.  Only this module and the CLI import rich."""
from __future__ import annotations

import io
import os
import textwrap
import time

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import INCOMPLETE, NOT_FOUND, VIOLATED


def make_console(stderr=False) -> Console:
    """A console for the CLI: a terminal's own width; when output goes to a file or a CI
    log, the width in ``COLUMNS`` if set, else 120 (rich would assume 80)."""
    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c = Console(stderr=stderr, highlight=False, width=120)
    return c


LEGEND = ("ok = holds up to the depth bound; ok* = holds in the whole reachable space; "
          "✗N = violated, shortest counterexample N steps; ? = incomplete (budget); "
          "nf = no random walk violated it (simulate: not a pass); - = not checked")
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


def prop_label(i: int) -> str:
    """Column label of the i-th property (0-based) in the verdict table: P1, P2..."""
    return f"P{i + 1}"


def _verdict_table(checks, prop_names, cols, stats: bool, title: str | None) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
              show_edge=False, padding=(0, 0))
    t.add_column("design", overflow="fold")
    t.add_column("seed", justify="center")
    for i in cols:
        t.add_column(prop_label(i), justify="center", no_wrap=True)
    if stats:
        t.add_column("states", justify="right", no_wrap=True)
        t.add_column("depth", justify="right", no_wrap=True)
        t.add_column("time", justify="right", no_wrap=True)
    for c in checks:
        r = c.result
        row = [Text(str(r.design)), Text(str(c.model.design.seed)), *[_cell(r.verdicts.get(prop_names[i])) for i in cols]]
        if stats:
            row += [f"{r.stats.states:,}" if r.stats.states else "(z3)",
                    str(c.model.bounds.depth), f"{r.stats.seconds:.1f}s"]
        t.add_row(*row)
    return t


def verdict_tables(checks, prop_names, width: int = 80) -> list:
    """The design x property verdict matrix as renderables that fit ``width`` columns with
    nothing cut: designs as rows, properties as columns P1..Pn (a legend names them and the
    cells), then the states, depth bound and time of each design.  When the properties do not
    fit in one table they are split over several (each with the design column; states, depth
    and time in the last).  Cells: "ok" (holds to the depth bound), "ok*" (whole reachable
    space), "✗N" (violated, shortest counterexample N), "?" (incomplete), "-" (not checked)."""
    measure = Console(width=10_000, file=io.StringIO())
    n = len(prop_names)

    def fits(cols, stats):
        tb = _verdict_table(checks, prop_names, cols, stats, None)
        return measure.measure(tb).maximum <= width
    chunks, start = [], 0
    while start < n or not chunks:
        end = n
        while end > start + 1 and not fits(range(start, end), end == n):
            end -= 1
        chunks.append(range(start, end))
        start = end
    out = []
    for k, cols in enumerate(chunks):
        title = "daxcheck verdicts" + (f" ({k + 1}/{len(chunks)})" if len(chunks) > 1 else "")
        out.append(_verdict_table(checks, prop_names, cols, k == len(chunks) - 1, title))
    lines = [""]
    for i, p in enumerate(prop_names):      # "P1 name" entries packed, never split
        entry = f"{prop_label(i)} {p}"
        if lines[-1] and len(lines[-1]) + 2 + len(entry) > width:
            lines.append("")
        lines[-1] += ("  " if lines[-1] else "") + entry
    out.append(Text(textwrap.fill(LEGEND, width) + "\n" + "\n".join(lines), style="dim"))
    return out


def difference_table(differences, title: str) -> Table:
    """The gate's differences (:class:`~daxcheck.checker.gate.Difference`), one row each:
    design, property, what differs, the manifest's value and the computed one.  ``title``
    and the cells are plain text (no rich markup: they hold paths and names)."""
    t = Table(title=Text(title), title_justify="left")
    for col in ("design", "property", "what", "manifest", "computed"):
        t.add_column(col, overflow="fold")
    for d in differences:
        t.add_row(Text(d.design), Text(d.prop or "-"), Text(d.what), Text(d.manifest),
                  Text(d.computed, style="red"))
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
    t.add_row("0", Text("init", style="dim"), Text("empty files, nothing mapped, media stale",
                                                  style="dim"))
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
    line = (f"{check.model.design.name}: {st.states:,} distinct states, {st.transitions:,} "
            f"transitions, depth {st.depth}, {st.seconds:.2f}s, {st.rate:,.0f} states/s; "
            f"fired: {fired}")
    if st.symmetry is not None:
        line += f"; symmetry: {st.symmetry}"
    if getattr(st, "por", None) is not None:
        line += f"; partial-order reduction: {st.por}"
    if st.collision_probability is not None:
        line += (f"; fingerprints: probability {st.collision_probability:.1e} that a "
                 f"collision hid a state (--exact to rule it out)")
    if st.stopped:
        line += f"; stopped: {st.stopped}"
    return line


class Progress:
    """A progress callback for an engine (called with :class:`~daxcheck.checker.results.Stats`
    a few times a second).  On a terminal: a transient rich.progress line (spinner, states,
    depth, rate, elapsed) for runs that last over a second.  Otherwise (a CI log, a file): a
    plain line every ``every`` seconds, like TLC's ``Progress(depth)`` lines, e.g.
    ``Progress(4) cow-srcmap: 81,234 distinct states, 30,112 states/s, 2.7s``."""

    def __init__(self, console: Console, label: str, every: float = 5.0,
                 clock=time.perf_counter):
        self.console, self.label, self.every, self.clock = console, label, every, clock
        self.start = self.last = clock()
        self.bar = self.task = None

    def text(self, stats) -> str:
        """The progress line for ``stats``."""
        if stats.states:
            return (f"Progress({stats.depth}) {self.label}: {stats.states:,} distinct states, "
                    f"{stats.rate:,.0f} states/s, {stats.seconds:.1f}s")
        return f"Progress({stats.depth}) {self.label}: depth {stats.depth} done, {stats.seconds:.1f}s"

    def __call__(self, stats) -> None:
        now = self.clock()
        if not self.console.is_terminal:
            if now - self.last >= self.every:
                self.console.print(self.text(stats), markup=False, highlight=False, crop=False,
                                   soft_wrap=True)
                self.last = now
            return
        if now - self.start < 1.0:
            return
        if self.bar is None:
            from rich.progress import Progress as Bar, SpinnerColumn, TextColumn, TimeElapsedColumn
            self.bar = Bar(SpinnerColumn(), TextColumn("{task.description}", style="cyan"),
                           TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.text(stats), total=None)
        else:
            self.bar.update(self.task, description=self.text(stats))

    def close(self) -> None:
        """Remove the terminal progress line (if any)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
