"""One self-contained HTML page of a counterexample (``daxcheck view TRACE --html OUT``).

The page has a header (design, property, bounds, settings, the failing items), then a
timeline: one table row per step (``<tr class="step">``, after a row for the initial state)
with the action and its arguments, the fields it changed (``label: old → new``) and an inline
SVG drawing of the state after the step: files → extents (with the DAX xarray entry of each
file block) → pmem blocks (refcount, page->mapping, media and dirty cache contents per
segment) ← page tables (the PTEs of each process, pointing at the pfn or the zero page).
Boxes the step changed are yellow; the item the property fails on (a pmem page, a file block
or a segment) is outlined red.  No script, no external resource: CSS and SVG are inline.

This module imports no ``rich``; the drawing reads the layout's named fields and skips any a
layout does not have.
"""

from __future__ import annotations

import html
from pathlib import Path

from daxcheck.fileio import InputFileError, atomic_write, read_head
from daxcheck.properties import lookup
from daxcheck.spec.state import file_name

from .replay import check_states
from .results import fmt_items
from .trace import TraceError, check_design_settings, read_itf

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} .meta{color:#555;margin:0 0 16px}
table.timeline{border-collapse:collapse;width:100%}
.timeline th,.timeline td{border:1px solid #ccc;padding:6px;vertical-align:top;text-align:left}
.timeline th{background:#f3f3f3} tr.step.last td{background:#fff4f4}
td.num{width:2em;text-align:right} td.action code{font-weight:600}
ul.changes{margin:0;padding-left:18px;font-family:monospace;font-size:12px}
li.ghost{color:#888}
svg text{font:11px monospace} .box{fill:#eef4ff;stroke:#5577aa}
.file{fill:#e8f5e9;stroke:#4a7a4a} .pmem{fill:#fff8e1;stroke:#a07a00}
.pte{fill:#f3e5f5;stroke:#7a4a8a} .zero{fill:#eee;stroke:#888}
.changed{fill:#fff176} .failing{stroke:#d00000;stroke-width:3}
.arrow{stroke:#333;fill:none;marker-end:url(#ah)} .unwritten{stroke-dasharray:4 3}
.ptearrow{stroke:#7a4a8a;fill:none;marker-end:url(#ah)}
"""


def _get(L, s, name, *ix, default=None):
    o = getattr(L, name, None)
    if o is None:
        return default
    for i in ix:
        o = o[i]
    return s[o]


def _show(L, s, name, *ix) -> str:
    o = getattr(L, name, None)
    if o is None:
        return "?"
    for i in ix:
        o = o[i]
    return L.show(o, s[o])


def _item_keys(item) -> set:
    """Drawing keys of a failing item: ("p", b) for a page, ("x", f, x) for a block/segment."""
    if isinstance(item, int):
        return {("p", item)}
    if isinstance(item, tuple) and len(item) >= 2:
        return {("x", item[0], item[1])}
    return set()


def _changed_keys(L, prev, s) -> set:
    """Drawing keys of the boxes whose fields changed between ``prev`` and ``s``."""
    out = set()
    for o in range(L.width):
        if prev[o] == s[o]:
            continue
        _, dims, ix = L.field_at(o)
        at = dict(zip(dims, ix))
        if "phys" in at:
            out.add(("p", at["phys"]))
        elif "proc" in at and "blk" in at:
            out.add(("t", at["proc"], at["file"], at["blk"]))
        elif "file" in at and "blk" in at:
            out.add(("x", at["file"], at["blk"]))
        elif "file" in at:
            out.add(("f", at["file"]))
    return out


_ROW = 40
"""The height of one row of boxes in the drawing (SVG pixels)."""
_XS = {"file": 10, "ext": 120, "pmem": 430, "pte": 760}
"""The x position of each column of the drawing (SVG pixels)."""


class _Svg:
    """The elements of one SVG drawing, with the boxes a step changed and the failing
    items' boxes marked."""

    def __init__(self, changed, failing):
        self.out, self.changed, self.failing = [], changed, failing

    def box(self, x, y, w, h, cls, key, lines):
        c = (
            cls
            + (" changed" if key in self.changed else "")
            + (" failing" if key in self.failing else "")
        )
        self.out.append(f'<rect class="box {c}" x="{x}" y="{y}" width="{w}" height="{h}" rx="4"/>')
        for i, t in enumerate(lines):
            self.out.append(f'<text x="{x + 5}" y="{y + 13 + i * 12}">{html.escape(t)}</text>')


def draw_state(L, s, changed=frozenset(), failing=frozenset()) -> str:
    """An SVG drawing of state ``s``: files → extents → pmem blocks ← page tables.
    ``changed`` and ``failing`` hold box keys (:func:`_item_keys`) drawn yellow and
    outlined red."""
    B = L.bounds
    rows_ext = [(f, x) for f in range(B.files) for x in range(B.blocks)]
    ptes = [
        (n, f, x)
        for n in range(B.procs)
        for f in range(B.files)
        for x in range(B.blocks)
        if _show(L, s, "pte_kind", n, f, x) not in ("none", "?")
    ]
    height = max(len(rows_ext), B.phys + 1, len(ptes), 1) * _ROW + 30
    y_ext = {fx: 20 + i * _ROW for i, fx in enumerate(rows_ext)}
    y_p = {b: 20 + b * _ROW for b in range(B.phys)}
    svg = _Svg(changed, failing)
    svg.out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="1020" height="{height}" '
        f'viewBox="0 0 1020 {height}"><defs><marker id="ah" viewBox="0 0 10 10" '
        f'refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    )
    _draw_files(svg, L, s, y_ext, y_p)
    _draw_pmem(svg, L, s, y_p, ptes)
    _draw_ptes(svg, L, s, y_p, ptes)
    svg.out.append("</svg>")
    return "".join(svg.out)


def _draw_files(svg: _Svg, L, s, y_ext, y_p) -> None:
    """The file boxes, one extent box per file block (with its xarray entry), and the
    arrows file → extent → pmem block."""
    B = L.bounds
    for f in range(B.files):
        ys = [y_ext[(f, x)] for x in range(B.blocks)]
        extra = " sealed" if _get(L, s, "sealed", f) == 1 else ""
        svg.box(
            _XS["file"],
            ys[0],
            90,
            ys[-1] - ys[0] + 32,
            "file",
            ("f", f),
            [f"file {file_name(f)}", f"size {_get(L, s, 'size', f)}{extra}"],
        )
    for (f, x), y in y_ext.items():
        kind = _show(L, s, "ext_kind", f, x)
        xa = _show(L, s, "xa_kind", f, x)
        if xa == "pfn":
            xa += " " + _show(L, s, "xa_pfn", f, x)
        if _get(L, s, "xa_dirty", f, x) == 1:
            xa += " dirty"
        svg.box(
            _XS["ext"],
            y,
            220,
            32,
            "ext",
            ("x", f, x),
            [
                f"{file_name(f)}[{x}] {kind}"
                + (f" @{_show(L, s, 'ext_pblk', f, x)}" if kind != "hole" else ""),
                f"xarray: {xa}; journal {_show(L, s, 'jext_kind', f, x)}",
            ],
        )
        svg.out.append(
            f'<line class="arrow" x1="{_XS["file"] + 90}" y1="{y + 16}" '
            f'x2="{_XS["ext"]}" y2="{y + 16}"/>'
        )
        if kind != "hole":
            b = _get(L, s, "ext_pblk", f, x)
            cls = "arrow" + (" unwritten" if kind == "unwritten" else "")
            svg.out.append(
                f'<path class="{cls}" d="M{_XS["ext"] + 220},{y + 16} '
                f"C{_XS['ext'] + 270},{y + 16} {_XS['pmem'] - 50},{y_p[b] + 16} "
                f'{_XS["pmem"]},{y_p[b] + 16}"/>'
            )


def _draw_pmem(svg: _Svg, L, s, y_p, ptes) -> None:
    """One box per pmem block (refcount, page->mapping, media and dirty cache per
    segment), and the zero page when a PTE maps it."""
    for b, y in y_p.items():
        segs = " ".join(f"s{g}={_show(L, s, 'media', b, g)}" for g in range(len(L.segs)))
        dirty = " ".join(
            f"s{g}={_show(L, s, 'cache', b, g)}"
            for g in range(len(L.segs))
            if _get(L, s, "cache", b, g, default=0) != 0
        )
        svg.box(
            _XS["pmem"],
            y,
            260,
            32,
            "pmem",
            ("p", b),
            [
                f"p{b} ref={_get(L, s, 'refcount', b)} mapping={_show(L, s, 'page_mapping', b)}",
                f"media {segs}" + (f" cache {dirty}" if dirty else ""),
            ],
        )
    if any(_show(L, s, "pte_kind", *t) == "zero" for t in ptes):
        svg.box(_XS["pmem"], 20 + L.bounds.phys * _ROW, 260, 26, "zero", ("z",), ["zero page"])


def _draw_ptes(svg: _Svg, L, s, y_p, ptes) -> None:
    """One box per present PTE ``(proc, file, block)`` with an arrow to its pfn or the
    zero page."""
    y_zero = 20 + L.bounds.phys * _ROW
    for i, (n, f, x) in enumerate(ptes):
        y = 20 + i * _ROW
        kind = _show(L, s, "pte_kind", n, f, x)
        svg.box(
            _XS["pte"],
            y,
            200,
            32,
            "pte",
            ("t", n, f, x),
            [
                f"P{n} page table",
                f"{file_name(f)}[{x}] {kind}"
                + (f" -> {_show(L, s, 'pte_pfn', n, f, x)}" if kind != "zero" else ""),
            ],
        )
        ty = y_zero + 13 if kind == "zero" else y_p[_get(L, s, "pte_pfn", n, f, x)] + 16
        svg.out.append(
            f'<path class="ptearrow" d="M{_XS["pte"]},{y + 16} C{_XS["pte"] - 40},'
            f'{y + 16} {_XS["pmem"] + 300},{ty} {_XS["pmem"] + 260},{ty}"/>'
        )


def _changes(L, prev, s) -> str:
    items = []
    for o in range(L.width):
        if prev[o] != s[o]:
            ghost = L.field_at(o)[0].startswith("ghost")
            items.append(
                f"<li{' class=ghost' if ghost else ''}>{html.escape(L.label(o))}: "
                f"{html.escape(L.show(o, prev[o]))} → {html.escape(L.show(o, s[o]))}</li>"
            )
    return f'<ul class="changes">{"".join(items)}</ul>' if items else "<em>(no change)</em>"


def render_html(trace, model, failing_items=()) -> str:
    """The HTML page of ``trace`` (a :class:`~daxcheck.checker.trace.Trace`) in ``model``;
    ``failing_items`` are the property's failing items in the last state (pages as ints,
    file blocks/segments as tuples)."""
    L = model.L
    failing = set()
    for it in failing_items:
        failing |= _item_keys(it)
    title = (
        f"{trace.design}: {trace.prop} violated at depth {trace.depth}"
        if trace.prop
        else f"{trace.design}: trace of {trace.depth} steps"
    )
    where = (
        ", ".join(fmt_items(trace.prop, list(failing_items), L))
        if trace.prop
        else ", ".join(str(i) for i in failing_items)
    )
    bounds = " ".join(f"{k}={v}" for k, v in trace.bounds.as_dict().items())
    settings = ", ".join(f"{k}={v}" for k, v in model.design.settings().items())
    rows = [
        f'<tr class="init"><td class="num">0</td><td class="action"><code>init</code></td>'
        f"<td>empty files, nothing mapped, media stale</td>"
        f"<td>{draw_state(L, trace.states[0], failing=failing)}</td></tr>"
    ]
    for n, (a, prev, s) in enumerate(zip(trace.actions, trace.states, trace.states[1:]), 1):
        last = " last" if n == trace.depth else ""
        rows.append(
            f'<tr class="step{last}" id="step-{n}"><td class="num">{n}</td>'
            f'<td class="action"><code>{html.escape(a.describe())}</code></td>'
            f"<td>{_changes(L, prev, s)}</td>"
            f"<td>{draw_state(L, s, _changed_keys(L, prev, s), failing)}</td></tr>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="meta">failing item{"s" if len(failing_items) != 1 else ""}: '
        f"<b>{html.escape(where or '-')}</b> (outlined red) · bounds {html.escape(bounds)} "
        f"· {html.escape(settings)} · {html.escape(str(trace.meta.get('command', '')))}</p>"
        '<table class="timeline"><thead><tr><th>#</th><th>action</th><th>changed fields</th>'
        "<th>files → extents → pmem blocks ← page tables (after the step)</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )


def write_view(trace_path, out_path, *, force: bool = False) -> int:
    """Read the ITF file ``trace_path`` and write its page to ``out_path``; returns the
    number of steps.  Raises TraceError for a malformed trace, one whose design settings
    differ from the registered design's (:class:`~.trace.DesignChanged`), one whose states
    are not the spec's successors or whose property holds in its final state, and
    FileExistsError when
    ``out_path`` exists and is not a daxcheck page (unless ``force``)."""
    trace, model, doc = read_itf(trace_path)
    check_design_settings(str(trace_path), doc["#meta"], model.design)
    check_states(trace_path, trace, model)  # never draw states the spec does not compute
    items = []
    if trace.prop:
        try:
            prop = lookup(trace.prop)
        except KeyError:
            prop = None
        if prop is not None:
            if prop.holds(model.L, trace.states[-1]):
                raise TraceError(
                    f"{trace_path}: the trace does not match the spec: "
                    f"#meta.property {trace.prop} holds in its final state"
                )
            items = [i for i in prop.failing_items(model.L, trace.states[-1]) if i is not None]
    page = render_html(trace, model, items)
    p = Path(out_path)
    try:
        head = read_head(p, 1 << 16)
    except InputFileError as e:
        raise FileExistsError(str(e)) from None
    if head is not None and not force and '<table class="timeline">' not in head:
        raise FileExistsError(
            f"{out_path} exists and is not a daxcheck page (use --force to overwrite it)"
        )
    try:
        atomic_write(p, page)
    except InputFileError as e:
        raise FileExistsError(str(e)) from None
    return trace.depth
