"""Mutation testing of the spec: do the gate and the fast tests catch planted spec bugs?

    python bench/mutants.py [--count 100] [--seed 0] [--jobs 1] [--timeout 300]
                            [--only ID,...] [--list] [--out bench/mutants_results.json]

Generates one-line mutations of the kernel functions (``spec/kernel/*.py``), the
operations (``spec/ops/*.py``, the race steps included), ``spec/locks.py``, the designs
(``spec/designs.py``, ``spec/seeds.py``, ``spec/history.py``, ``spec/race_designs.py``) and the properties and
lemmas (``properties/fsdax.py``, ``properties/lemmas.py``) with a small AST-based
generator (mutmut and cosmic-ray mutate Python operators; the spec's logic is written in
the vocabulary, ``And``/``Or``/``Not``/``If``/``require`` calls, which they do not know),
samples ``--count`` of them deterministically (``--seed``; round-robin over the operators
so each is represented), and runs each mutant in a temporary copy of the tree (never the
worktree): it is *killed* when the fast tests fail (:data:`FAST_TESTS`, ``-x``), else when
``python -m daxcheck gate --quiet`` (every shipped design against the verdict manifest,
every shipped counterexample replayed) exits non-zero, else when the default-suite tests
of :data:`SURVIVOR_TESTS` fail; *timeout* (counted as killed) when the steps run over
``--timeout`` seconds.  The copy is imported through ``PYTHONPATH`` and the working folder,
ahead of the editable install (``daxcheck/spec`` etc. symlinked in the copy).

Operators: ``cmp`` (negate a comparison), ``boundary`` (``<``/``<=``, ``>``/``>=``),
``and_or`` (``And``<->``Or``, ``and``<->``or``), ``drop_not`` (``Not(x)``/``not x`` -> ``x``),
``swap_if`` (``If(c, a, b)``/``a if c else b`` branches swapped), ``const`` (an integer
constant + 1), ``require`` (``require(x)`` -> ``require(True)``: the guard deleted),
``setting`` (a ``Design`` setting's default changed to another value a shipped design uses,
a bool flipped).  Only mutations whose node sits on one source line are generated.

Writes one record per mutant to ``--out`` (JSON) and prints two rates: killed of all, and
killed of the non-equivalent ones.  A survivor is *equivalent* only when
``bench/mutants_survivors.md`` lists it (by file, line and mutated text, in its
"Equivalent" table) with a proof that no scope built from the shipped actions
distinguishes it: a Z3 answer (``daxcheck coverage --explain``: the outcome where mutant
and original differ is unreachable, at the scope named) or an argument over the
transition checked the same way.  That shipped scopes happen to miss it is not such a
proof: every other survivor counts as a real hole.  A bench tool, not product code.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (
    tuple(
        f"spec/kernel/{m}.py"
        for m in (
            "dax",
            "mm",
            "huge_memory",
            "pmem",
            "views",
            "xfs_bmap",
            "xfs_file",
            "xfs_iomap",
            "xfs_log",
            "xfs_reflink",
        )
    )
    + tuple(
        f"spec/ops/{m}.py"
        for m in (
            "common",
            "crash",
            "fallocate",
            "file_io",
            "inode",
            "mmap_fault",
            "pins",
            "reflink",
            "sync",
        )
    )
    + ("spec/ops/races.py", "spec/ops/split.py", "spec/locks.py")
    + ("spec/designs.py", "spec/seeds.py", "spec/history.py", "spec/race_designs.py")
    + ("properties/fsdax.py", "properties/lemmas.py")
)
FAST_TESTS = (
    "tests/test_actions.py",
    "tests/test_properties.py",
    "tests/test_vocab.py",
    "tests/test_spec_edges.py",
    "tests/test_conjuncts.py",
)
SURVIVOR_TESTS = ("tests/test_scopes.py", "tests/test_prove.py")
"""Default-suite tests run only on a mutant that the fast tests and the gate missed: the
coverage scopes' planted bugs and the race lemmas on every race design's whole space, and
k-induction, which checks the lemmas the gate never evaluates."""
OPERATORS = ("cmp", "boundary", "and_or", "drop_not", "swap_if", "const", "require", "setting")
_NEG = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
DESCRIPTIVE = ("name", "seed", "summary", "cite")
"""Design fields that describe it and decide nothing (no ``setting`` mutants)."""
_EDGE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _docstrings(tree) -> set[int]:
    """ids of the docstring Constant nodes (never mutated)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                out.add(id(body[0].value))
    return out


SURVIVORS = ROOT / "bench" / "mutants_survivors.md"


def proven_equivalent(path: Path = SURVIVORS) -> set[tuple[str, int, str]]:
    """The mutants ``(file, line, mutated text)`` that ``path``'s "Equivalent" table proves
    equivalent: rows ``| id | `FILE:LINE` `OLD` -> `NEW` | proof |`` under a heading that
    starts with "## Equivalent" (up to the next heading).  A missing file proves nothing."""
    out: set[tuple[str, int, str]] = set()
    if not path.exists():
        return out
    inside = False
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Equivalent")
            continue
        if not inside or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 3 or "->" not in cells[1]:
            continue
        ticks = cells[1].split("`")[1::2]
        if len(ticks) < 3 or ":" not in ticks[0]:
            continue
        f, ln = ticks[0].rsplit(":", 1)
        if ln.isdigit():
            out.add((f, int(ln), ticks[2]))
    return out


def _callee(node) -> str | None:
    return node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None


def _setting_values() -> dict:
    """Per ``Design`` setting, the values the shipped designs use (for ``setting``)."""
    import dataclasses

    from daxcheck.spec.designs import DESIGNS

    out = {}
    for d in DESIGNS.values():
        for f in dataclasses.fields(d):
            v = getattr(d, f.name)
            if isinstance(v, (str, bool)) and f.name not in DESCRIPTIVE:
                out.setdefault(f.name, set()).add(v)
    return out


def sites(rel: str, settings: dict) -> list[dict]:
    """Every mutation of file ``rel``: dicts with op, line, col, end, original and mutated
    text of the node (one line)."""
    src = (ROOT / rel).read_text()
    lines = src.splitlines()
    tree = ast.parse(src)
    docs = _docstrings(tree)
    out = []

    def add(op, node, new):
        if node.lineno != node.end_lineno:
            return
        old = lines[node.lineno - 1][node.col_offset : node.end_col_offset]
        text = ast.unparse(new)
        if text != old:
            out.append(
                {
                    "file": rel,
                    "op": op,
                    "line": node.lineno,
                    "col": node.col_offset,
                    "end": node.end_col_offset,
                    "old": old,
                    "new": text,
                }
            )

    in_design = set()
    for node in ast.walk(tree):  # message text (f-strings) is not the model: left alone
        if isinstance(node, ast.JoinedStr):
            docs |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Design":
            in_design = {id(s) for s in node.body if isinstance(s, ast.AnnAssign)}
    for node in ast.walk(tree):
        if id(node) in docs:
            continue
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            t = type(node.ops[0])
            if t in _NEG:
                add("cmp", node, ast.Compare(node.left, [_NEG[t]()], node.comparators))
            if t in _EDGE:
                add("boundary", node, ast.Compare(node.left, [_EDGE[t]()], node.comparators))
        elif isinstance(node, ast.BoolOp):
            other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            add("and_or", node, ast.BoolOp(other, node.values))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            add("drop_not", node, node.operand)
        elif isinstance(node, ast.IfExp):
            add("swap_if", node, ast.IfExp(node.test, node.orelse, node.body))
        elif isinstance(node, ast.Constant) and type(node.value) is int and id(node) not in docs:
            add("const", node, ast.Constant(node.value + 1))
        elif (
            isinstance(node, ast.AnnAssign)
            and id(node) in in_design
            and isinstance(node.target, ast.Name)
            and isinstance(node.value, ast.Constant)
        ):
            v, name = node.value.value, node.target.id
            alt = (
                (not v)
                if isinstance(v, bool)
                else next(iter(sorted(x for x in settings.get(name, ()) if x != v)), None)
            )
            if alt is not None:
                add("setting", node.value, ast.Constant(alt))
        name = _callee(node)
        if name in ("And", "Or") and node.args:
            add(
                "and_or",
                node,
                ast.Call(ast.Name("Or" if name == "And" else "And"), node.args, node.keywords),
            )
        elif name == "Not" and len(node.args) == 1:
            add("drop_not", node, node.args[0])
        elif name == "If" and len(node.args) == 3:
            c, a, b = node.args
            add("swap_if", node, ast.Call(ast.Name("If"), [c, b, a], node.keywords))
        elif name == "require" and len(node.args) == 1:
            add("require", node, ast.Call(ast.Name("require"), [ast.Constant(True)], []))
    out.sort(key=lambda m: (m["file"], m["line"], m["col"], m["op"], m["new"]))
    return out


def choose(count: int, seed: int) -> list[dict]:
    """``count`` mutants, deterministic for ``seed``: per operator a seeded shuffle, then
    round-robin over the operators; numbered in that order."""
    settings = _setting_values()
    every = [m for rel in TARGETS if (ROOT / rel).exists() for m in sites(rel, settings)]
    rng = random.Random(seed)
    by_op = {op: [m for m in every if m["op"] == op] for op in OPERATORS}
    for op in OPERATORS:
        rng.shuffle(by_op[op])
    picked = []
    while len(picked) < count and any(by_op.values()):
        for op in OPERATORS:
            if by_op[op] and len(picked) < count:
                picked.append(by_op[op].pop())
    for i, m in enumerate(picked):
        m["id"] = i
    return picked, len(every)


def _sandbox(base: Path, m: dict) -> tuple[Path, dict]:
    """A copy of the tree with mutant ``m`` applied, and the environment importing it."""
    tree = base / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache"
        ),
    )
    path = tree / m["file"]
    lines = path.read_text().splitlines(keepends=True)
    ln = lines[m["line"] - 1]
    assert ln[m["col"] : m["end"]] == m["old"], (m, ln)
    lines[m["line"] - 1] = ln[: m["col"]] + m["new"] + ln[m["end"] :]
    path.write_text("".join(lines))
    for sub in ("spec", "checker", "properties"):  # the installed layout, in the copy
        (tree / "daxcheck" / sub).symlink_to(tree / sub)
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    return tree, env


def run_one(m: dict, timeout: float) -> dict:
    """Run mutant ``m``: fast tests, then the gate, then :data:`SURVIVOR_TESTS`; returns
    the record."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="daxmut") as tmp:
        tree, env = _sandbox(Path(tmp), m)
        steps = [
            (
                "tests",
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *FAST_TESTS],
            ),
            ("gate", [sys.executable, "-m", "daxcheck", "gate", "--quiet"]),
            (
                "default tests",
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:cacheprovider",
                    *SURVIVOR_TESTS,
                ],
            ),
        ]
        status, detail = "survived", ""
        for name, cmd in steps:
            left = timeout - (time.perf_counter() - t0)
            try:
                r = subprocess.run(
                    cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=max(1.0, left)
                )
            except subprocess.TimeoutExpired:
                status, detail = "timeout", f"{name} over {timeout:g}s"
                break
            if r.returncode != 0:
                out = (r.stdout + r.stderr).strip().splitlines()
                status, detail = f"killed by {name}", (out[-1] if out else "")[:300]
                break
    return {**m, "status": status, "detail": detail, "seconds": round(time.perf_counter() - t0, 1)}


NOOP = {
    "id": -1,
    "file": TARGETS[0],
    "op": "none",
    "line": 1,
    "col": 0,
    "end": 0,
    "old": "",
    "new": "",
}
"""The unmutated tree (the baseline run: it must survive)."""


def _check_sandbox() -> None:
    """The copy, not the editable install, is what a mutant run imports."""
    m = NOOP
    with tempfile.TemporaryDirectory(prefix="daxmut") as tmp:
        tree, env = _sandbox(Path(tmp), m)
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                "import daxcheck.spec.kernel.dax as f, "
                "daxcheck.checker.gate as g; print(f.__file__); print(g.SHIPPED_DIR)",
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        got = r.stdout.split()
        if not got[0].startswith(tmp) or not got[1].startswith(str(Path(tmp).resolve())):
            sys.exit(f"mutants: the sandbox imports {got}, not the copy in {tmp}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    ap.add_argument("--only", help="comma-separated mutant ids to run")
    ap.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    ap.add_argument("--out", default=str(ROOT / "bench" / "mutants_results.json"))
    a = ap.parse_args(argv)
    picked, total = choose(a.count, a.seed)
    if a.only:
        ids = {int(x) for x in a.only.split(",")}
        picked = [m for m in picked if m["id"] in ids]
    if a.list:
        for m in picked:
            print(f"{m['id']:3d} {m['op']:8s} {m['file']}:{m['line']}  {m['old']}  ->  {m['new']}")
        print(f"{len(picked)} of {total} generated mutants")
        return 0
    _check_sandbox()
    base = run_one(NOOP, a.timeout)
    print(f"baseline (no mutation): {base['status']} in {base['seconds']}s", flush=True)
    if base["status"] != "survived":
        sys.exit(f"mutants: the unmutated tree fails: {base['detail']}")
    t0 = time.perf_counter()
    records = []
    with ThreadPoolExecutor(a.jobs) as pool:
        for r in pool.map(lambda m: run_one(m, a.timeout), picked):
            records.append(r)
            print(
                f"{r['id']:3d} {r['status']:16s} {r['seconds']:6.1f}s {r['op']:8s} "
                f"{r['file']}:{r['line']}  {r['old']} -> {r['new']}",
                flush=True,
            )
    wall = time.perf_counter() - t0
    killed = [r for r in records if r["status"] != "survived"]
    doc = {
        "seed": a.seed,
        "count": len(records),
        "generated": total,
        "killed": len(killed),
        "survived": len(records) - len(killed),
        "wall_seconds": round(wall, 1),
        "jobs": a.jobs,
        "fast_tests": list(FAST_TESTS),
        "survivor_tests": list(SURVIVOR_TESTS),
        "baseline_seconds": base["seconds"],
        "mutants": records,
    }
    if a.only and Path(a.out).exists():  # merge a partial re-run into the results
        old = json.loads(Path(a.out).read_text())
        byid = {r["id"]: r for r in old["mutants"]}
        byid.update({r["id"]: r for r in records})
        recs = [byid[i] for i in sorted(byid)]
        k = sum(r["status"] != "survived" for r in recs)
        doc = {
            **old,
            "count": len(recs),
            "killed": k,
            "survived": len(recs) - k,
            "mutants": recs,
            "rerun": {
                "ids": sorted(ids),
                "wall_seconds": round(wall, 1),
                "fast_tests": list(FAST_TESTS),
            },
        }
    equivalent = proven_equivalent()
    for r in doc["mutants"]:
        r["equivalent"] = (
            r["status"] == "survived" and (r["file"], r["line"], r["new"]) in equivalent
        )
    eq = sum(r["equivalent"] for r in doc["mutants"])
    doc["equivalent"] = eq
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    real = doc["count"] - eq
    print(
        f"{doc['killed']}/{doc['count']} killed ({100 * doc['killed'] / max(1, doc['count']):.1f}%),"
        f" {doc['survived']} survived, {eq} of them proven equivalent; "
        f"{doc['killed']}/{real} non-equivalent killed "
        f"({100 * doc['killed'] / max(1, real):.1f}%); {wall:.0f}s wall with {a.jobs} job(s); "
        f"{a.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
