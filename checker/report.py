"""Terminal reporting with rich: verdict tables, counterexamples as per-step diffs,
statistics and progress.  Only this module and the CLI import rich."""
from __future__ import annotations

import textwrap
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .results import INCOMPLETE, NOT_FOUND, VIOLATED


def make_console(stderr=False) -> Console:
    """A console that does not wrap on narrow CI logs (width >= 120)."""
    c = Console(stderr=stderr, highlight=False)
    if not c.is_terminal:
        c = Console(stderr=stderr, highlight=False, width=max(c.width, 170))
    return c


def _cell(v) -> Text:
    if v is None:
        return Text("-", style="dim")
    if v.status == VIOLATED:
        return Text(f"VIOLATED d={v.depth}", style="bold red")
    if v.status == INCOMPLETE:
        return Text("incomplete", style="yellow")
    if v.status == NOT_FOUND:
        return Text("not found", style="dim")
    return Text("holds*" if v.complete else "holds", style="green")


def verdict_table(checks, prop_names) -> Table:
    """Design x property matrix: "holds" (to the depth bound), "holds*" (whole reachable
    space), "VIOLATED d=N" (shortest counterexample depth) or "incomplete"."""
    t = Table(title="daxcheck verdicts", show_lines=False)
    t.add_column("design", no_wrap=True, min_width=20)
    t.add_column("seed", justify="center")
    for p in prop_names:
        t.add_column("\n".join(textwrap.wrap(p.replace("_", " "), 12)), justify="center",
                     no_wrap=True, min_width=12)
    t.add_column("states", justify="right")
    t.add_column("depth", justify="right")
    t.add_column("time", justify="right")
    for c in checks:
        r = c.result
        t.add_row(r.design, c.model.design.seed, *[_cell(r.verdicts.get(p)) for p in prop_names],
                  f"{r.stats.states:,}" if r.stats.states else "(z3)", str(c.model.bounds.depth),
                  f"{r.stats.seconds:.1f}s")
    return t


def difference_table(differences, title: str) -> Table:
    """The gate's differences (:class:`~daxcheck.checker.gate.Difference`), one row each:
    design, property, what differs, the manifest's value and the computed one."""
    t = Table(title=title, title_justify="left")
    for col in ("design", "property", "what", "manifest", "computed"):
        t.add_column(col, overflow="fold")
    for d in differences:
        t.add_row(d.design, d.prop or "-", d.what, d.manifest, Text(d.computed, style="red"))
    return t


def trace_table(trace, model, title: str) -> Table:
    """A counterexample as a table of steps showing only the fields each step changed
    (ghost fields dimmed)."""
    L = model.L
    t = Table(title=title, title_justify="left", show_lines=True)
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
        t.add_row(str(n), a.describe(), lines)
        prev = s
    return t


def fmt_item(item) -> str:
    """An invariant's item: a pmem page ``p1``, a file block ``a[0]`` or a segment
    ``a[0].s1``."""
    from daxcheck.spec.state import file_name
    if isinstance(item, int):
        return f"p{item}"
    if isinstance(item, tuple) and len(item) in (2, 3):
        out = f"{file_name(item[0])}[{item[1]}]"
        return out + (f".s{item[2]}" if len(item) == 3 else "")
    return str(item)


def stats_line(check) -> str:
    """One line of statistics for a check."""
    st = check.result.stats
    fired = ", ".join(f"{k} {v:,}" for k, v in sorted(st.fired.items()))
    line = (f"{check.model.design.name}: {st.states:,} distinct states, {st.transitions:,} "
            f"transitions, depth {st.depth}, {st.seconds:.2f}s, {st.rate:,.0f} states/s; "
            f"fired: {fired}")
    if st.stopped:
        line += f"; stopped: {st.stopped}"
    return line


class Progress:
    """A progress callback for the explorer that shows a live line only for runs that
    last over a second and only on a terminal."""

    def __init__(self, console: Console, label: str):
        self.console, self.label = console, label
        self.start = time.perf_counter()
        self.live = None

    def __call__(self, stats) -> None:
        if not self.console.is_terminal or time.perf_counter() - self.start < 1.0:
            return
        text = Text(f"{self.label}: {stats.states:,} states, depth {stats.depth}, "
                    f"{stats.rate:,.0f} states/s" if stats.states else
                    f"{self.label}: depth {stats.depth} done, {stats.seconds:.0f}s", style="cyan")
        if self.live is None:
            self.live = Live(text, console=self.console, transient=True, refresh_per_second=4)
            self.live.start()
        else:
            self.live.update(text)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
