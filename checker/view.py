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

from daxcheck.spec.state import file_name

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


def draw_state(L, s, changed=frozenset(), failing=frozenset()) -> str:
    """An SVG drawing of state ``s``: files → extents → pmem blocks ← page tables."""
    B = L.bounds
    row = 40
    xs = {"file": 10, "ext": 120, "pmem": 430, "pte": 760}
    rows_ext = [(f, x) for f in range(B.files) for x in range(B.blocks)]
    ptes = [(n, f, x) for n in range(B.procs) for f in range(B.files) for x in range(B.blocks)
            if _show(L, s, "pte_kind", n, f, x) not in ("none", "?")]
    height = max(len(rows_ext), B.phys + 1, len(ptes), 1) * row + 30
    y_ext = {fx: 20 + i * row for i, fx in enumerate(rows_ext)}
    y_p = {b: 20 + b * row for b in range(B.phys)}
    y_zero = 20 + B.phys * row
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="1020" height="{height}" '
           f'viewBox="0 0 1020 {height}"><defs><marker id="ah" viewBox="0 0 10 10" refX="10" '
           f'refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           f'<path d="M0,0 L10,5 L0,10 z"/></marker></defs>']

    def box(x, y, w, h, cls, key, lines):
        c = cls + (" changed" if key in changed else "") + (" failing" if key in failing else "")
        out.append(f'<rect class="box {c}" x="{x}" y="{y}" width="{w}" height="{h}" rx="4"/>')
        for i, t in enumerate(lines):
            out.append(f'<text x="{x + 5}" y="{y + 13 + i * 12}">{html.escape(t)}</text>')

    for f in range(B.files):
        ys = [y_ext[(f, x)] for x in range(B.blocks)]
        extra = " sealed" if _get(L, s, "sealed", f) == 1 else ""
        box(xs["file"], ys[0], 90, ys[-1] - ys[0] + 32, "file", ("f", f),
            [f"file {file_name(f)}", f"size {_get(L, s, 'size', f)}{extra}"])
    for (f, x), y in y_ext.items():
        kind = _show(L, s, "ext_kind", f, x)
        xa = _show(L, s, "xa_kind", f, x)
        if xa == "pfn":
            xa += " " + _show(L, s, "xa_pfn", f, x)
        if _get(L, s, "xa_dirty", f, x) == 1:
            xa += " dirty"
        box(xs["ext"], y, 220, 32, "ext", ("x", f, x),
            [f"{file_name(f)}[{x}] {kind}" + (f" @{_show(L, s, 'ext_pblk', f, x)}"
                                             if kind != "hole" else ""),
             f"xarray: {xa}; journal {_show(L, s, 'jext_kind', f, x)}"])
        out.append(f'<line class="arrow" x1="{xs["file"] + 90}" y1="{y + 16}" x2="{xs["ext"]}" '
                   f'y2="{y + 16}"/>')
        if kind != "hole":
            b = _get(L, s, "ext_pblk", f, x)
            cls = "arrow" + (" unwritten" if kind == "unwritten" else "")
            out.append(f'<path class="{cls}" d="M{xs["ext"] + 220},{y + 16} C{xs["ext"] + 270},'
                       f'{y + 16} {xs["pmem"] - 50},{y_p[b] + 16} {xs["pmem"]},{y_p[b] + 16}"/>')
    for b, y in y_p.items():
        segs = " ".join(f"s{g}={_show(L, s, 'media', b, g)}" for g in range(len(L.segs)))
        dirty = " ".join(f"s{g}={_show(L, s, 'cache', b, g)}" for g in range(len(L.segs))
                         if _get(L, s, "cache", b, g, default=0) != 0)
        box(xs["pmem"], y, 260, 32, "pmem", ("p", b),
            [f"p{b} ref={_get(L, s, 'refcount', b)} mapping={_show(L, s, 'page_mapping', b)}",
             f"media {segs}" + (f" cache {dirty}" if dirty else "")])
    if any(_show(L, s, "pte_kind", *t) == "zero" for t in ptes):
        box(xs["pmem"], y_zero, 260, 26, "zero", ("z",), ["zero page"])
    for i, (n, f, x) in enumerate(ptes):
        y = 20 + i * row
        kind = _show(L, s, "pte_kind", n, f, x)
        box(xs["pte"], y, 200, 32, "pte", ("t", n, f, x),
            [f"P{n} page table", f"{file_name(f)}[{x}] {kind}"
             + (f" -> {_show(L, s, 'pte_pfn', n, f, x)}" if kind != "zero" else "")])
        ty = y_zero + 13 if kind == "zero" else y_p[_get(L, s, "pte_pfn", n, f, x)] + 16
        out.append(f'<path class="ptearrow" d="M{xs["pte"]},{y + 16} C{xs["pte"] - 40},{y + 16} '
                   f'{xs["pmem"] + 300},{ty} {xs["pmem"] + 260},{ty}"/>')
    out.append("</svg>")
    return "".join(out)


def _changes(L, prev, s) -> str:
    items = []
    for o in range(L.width):
        if prev[o] != s[o]:
            ghost = L.field_at(o)[0].startswith("ghost")
            items.append(f'<li{" class=ghost" if ghost else ""}>{html.escape(L.label(o))}: '
                         f'{html.escape(L.show(o, prev[o]))} → {html.escape(L.show(o, s[o]))}</li>')
    return f'<ul class="changes">{"".join(items)}</ul>' if items else "<em>(no change)</em>"


def render_html(trace, model, failing_items=()) -> str:
    """The HTML page of ``trace`` (a :class:`~daxcheck.checker.trace.Trace`) in ``model``;
    ``failing_items`` are the property's failing items in the last state (pages as ints,
    file blocks/segments as tuples)."""
    from .results import fmt_items
    L = model.L
    failing = set()
    for it in failing_items:
        failing |= _item_keys(it)
    title = (f"{trace.design}: {trace.prop} violated at depth {trace.depth}" if trace.prop
             else f"{trace.design}: trace of {trace.depth} steps")
    where = ", ".join(fmt_items(trace.prop, list(failing_items), L)) if trace.prop else \
        ", ".join(str(i) for i in failing_items)
    bounds = " ".join(f"{k}={v}" for k, v in trace.bounds.as_dict().items())
    settings = ", ".join(f"{k}={v}" for k, v in model.design.settings().items())
    rows = [f'<tr class="init"><td class="num">0</td><td class="action"><code>init</code></td>'
            f'<td>empty files, nothing mapped, media stale</td>'
            f'<td>{draw_state(L, trace.states[0], failing=failing)}</td></tr>']
    for n, (a, prev, s) in enumerate(zip(trace.actions, trace.states, trace.states[1:]), 1):
        last = " last" if n == trace.depth else ""
        rows.append(f'<tr class="step{last}" id="step-{n}"><td class="num">{n}</td>'
                    f'<td class="action"><code>{html.escape(a.describe())}</code></td>'
                    f'<td>{_changes(L, prev, s)}</td>'
                    f'<td>{draw_state(L, s, _changed_keys(L, prev, s), failing)}</td></tr>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f'<p class="meta">failing item{"s" if len(failing_items) != 1 else ""}: '
            f'<b>{html.escape(where or "-")}</b> (outlined red) · bounds {html.escape(bounds)} '
            f'· {html.escape(settings)} · {html.escape(str(trace.meta.get("command", "")))}</p>'
            '<table class="timeline"><thead><tr><th>#</th><th>action</th><th>changed fields</th>'
            '<th>files → extents → pmem blocks ← page tables (after the step)</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></body></html>\n')


def write_view(trace_path, out_path, force: bool = False) -> int:
    """Read the ITF file ``trace_path`` and write its page to ``out_path``; returns the
    number of steps.  Raises TraceError for a malformed trace, one whose design settings
    differ from the registered design's (:class:`~.trace.DesignChanged`), one whose states
    are not the spec's successors or whose property holds in its final state, and
    FileExistsError when
    ``out_path`` exists and is not a daxcheck page (unless ``force``)."""
    from daxcheck.properties import lookup
    from .replay import check_states
    from .trace import TraceError, check_design_settings, read_itf
    trace, model, doc = read_itf(trace_path)
    check_design_settings(str(trace_path), doc["#meta"], model.design)
    check_states(trace_path, trace, model)     # never draw states the spec does not compute
    items = []
    if trace.prop:
        try:
            prop = lookup(trace.prop)
        except KeyError:
            prop = None
        if prop is not None:
            if prop.holds(model.L, trace.states[-1]):
                raise TraceError(f"{trace_path}: the trace does not match the spec: "
                                 f"#meta.property {trace.prop} holds in its final state")
            items = [i for i in prop.failing_items(model.L, trace.states[-1]) if i is not None]
    from daxcheck.fileio import InputFileError, atomic_write, read_head
    page = render_html(trace, model, items)
    p = Path(out_path)
    try:
        head = read_head(p, 1 << 16)
    except InputFileError as e:
        raise FileExistsError(str(e)) from None
    if head is not None and not force and '<table class="timeline">' not in head:
        raise FileExistsError(f"{out_path} exists and is not a daxcheck page (use --force to "
                              f"overwrite it)")
    try:
        atomic_write(p, page)
    except InputFileError as e:
        raise FileExistsError(str(e)) from None
    return trace.depth
