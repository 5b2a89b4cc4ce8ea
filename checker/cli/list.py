"""``daxcheck list designs|properties|lemmas|actions|hooks|queries [--verbose]``."""

from __future__ import annotations

import re
from dataclasses import fields as dc_fields

from rich.table import Table

from daxcheck.properties import LEMMAS, PROPERTIES
from daxcheck.spec.arguments import arg_doc
from daxcheck.spec.designs import DESIGNS, hooks
from daxcheck.spec.ops import ACTIONS

from ..results import EXIT_OK
from ..runner import load_user_files
from ..symbolic.queries import QUERIES


def run(args, console) -> int:
    """Print one table of what ``args.what`` names (with the user files' entries); 0."""
    load_user_files(args.designs, args.properties)
    t = Table(show_lines=False)
    fill = {
        "designs": _designs,
        "hooks": _hooks,
        "properties": _properties,
        "lemmas": _properties,
        "queries": _queries,
    }.get(args.what, _actions)
    fill(t, args)
    console.print(t)
    return EXIT_OK


def _designs(t, args) -> None:
    cols = ("design", "seed", "expected", "summary") + (
        ("citation", "scope") if args.verbose else ()
    )
    for col in cols:
        t.add_column(col, overflow="fold")
    for d in DESIGNS.values():
        exp = ", ".join(sorted(d.expect_violated)) or "holds"
        row = [d.name, d.seed, exp, d.summary]
        if args.verbose:
            b = d.bounds
            row += [
                d.cite or "-",
                f"{' '.join(d.families)}; files={b.files} "
                f"blocks={b.blocks} phys={b.phys} tokens={b.tokens} procs={b.procs} "
                f"depth={b.depth}"
                + (f" segs={b.segs}" if b.segs != 2 else "")
                + (f" cuts={','.join(map(str, b.cuts))}" if b.cuts else ""),
            ]
        t.add_row(*row)


def _hooks(t, args) -> None:
    t.add_column("hook")
    t.add_column("kernel source", overflow="fold")
    for name, doc in hooks():
        t.add_row(name, doc)


def _properties(t, args) -> None:
    t.add_column("lemma" if args.what == "lemmas" else "property")
    t.add_column("origin")
    t.add_column("meaning", overflow="fold")
    for p in (PROPERTIES if args.what == "properties" else LEMMAS).values():
        t.add_row(p.name, p.origin, p.summary)


def _queries(t, args) -> None:
    t.add_column("query")
    t.add_column("question", overflow="fold")
    for name, q in QUERIES.items():
        t.add_row(name, " ".join((q.__doc__ or getattr(q, "doc", "") or "").split())[:200])


def _actions(t, args) -> None:
    t.add_column("action")
    if args.verbose:
        t.add_column("argument")
    t.add_column("models", overflow="fold")
    for name, cls in ACTIONS.items():
        doc = " ".join((cls.__doc__ or "").split())
        doc = re.sub(r":\w+:`([^`]*)`", r"\1", doc).replace("``", "")
        if not args.verbose:
            t.add_row(name, doc.split(". ")[0].rstrip(".") + ".")
            continue
        t.add_row(name, "", doc, end_section=not dc_fields(cls))
        fs = dc_fields(cls)
        for i, f in enumerate(fs):
            t.add_row(
                "", f.name, arg_doc(cls, f.name) or "(undocumented)", end_section=i == len(fs) - 1
            )
