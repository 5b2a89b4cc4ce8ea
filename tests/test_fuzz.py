"""Fuzzing daxcheck's inputs (issue 12): command lines, corrupted ITF traces, user files.

Hypothesis generates :data:`EXAMPLES_DEFAULT` inputs per category (at least :data:`EXAMPLES`
under ``-m thorough``) and drives
``daxcheck.checker.cli.main`` in this process (a few cases below need a process boundary:
a FIFO, ``/dev/zero``, Ctrl-C).  Every input must end with the exit code its kind calls for
(2 bad input, 3 a user's code raised; a trace daxcheck wrote, or one edited and resealed,
may replay to 0 or 12), at most one line on stderr naming the problem and never a
traceback, within :data:`SECONDS` seconds, without a large memory growth, and with nothing
in the working folder changed (snapshot before and after: a user's files, a FIFO, a
``*.itf.json.tmp`` of their own).  Runs are deterministic (``derandomize``); set
``DAXCHECK_FUZZ_RANDOM=1`` for fresh inputs and ``DAXCHECK_FUZZ_EXAMPLES=N`` for more.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daxcheck import registries
from daxcheck.checker.cli import main
from daxcheck.checker.gate import SHIPPED_DIR
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS

EXAMPLES = int(os.environ.get("DAXCHECK_FUZZ_EXAMPLES", "500"))
"""Generated inputs per category under ``-m thorough`` (the issue asks for at least 500)."""
EXAMPLES_DEFAULT = min(EXAMPLES, 100)
"""Generated inputs per category in the default run: the first of the thorough run's
deterministic sequence (derandomized), so the default run is a prefix of the thorough one."""
SIZES = [
    pytest.param(EXAMPLES_DEFAULT, id="default"),
    pytest.param(EXAMPLES, id="all", marks=pytest.mark.thorough),
]
"""The two sizes each of the three big categories runs at."""
SECONDS = 20.0
"""Longest any one input may take (a hang fails the test after 60 s)."""
MAX_RSS_GROWTH_MB = 400
"""Largest growth of this process's peak memory over one category."""

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    derandomize=not os.environ.get("DAXCHECK_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
SMALL = "iomap-hole-size"
TRACES = (
    "hole-size-unknown__mapping_matches_extents.itf.json",
    "cow-single-iomap__no_stale_data.itf.json",
)
COUNT: dict[str, int] = {}


# ---------------------------------------------------------------- harness
class Hung(BaseException):
    """An input ran for a minute: the test fails instead of blocking forever."""


def run(argv: list[str]) -> tuple[int, str, str, float]:
    """``main(argv)`` in this process with registries isolated and output captured:
    ``(exit code, stdout, stderr, seconds)``."""
    out, err = io.StringIO(), io.StringIO()

    def on_alarm(signum, frame):
        raise Hung(argv)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 60)
    t0 = time.monotonic()
    try:
        with (
            registries.isolated(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: its one-line error, exit 2
                code = e.code
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue(), time.monotonic() - t0


def snapshot(root: Path, skip=("out",)) -> dict:
    """Every entry under ``root`` (but ``skip``): type, size, mode, mtime and, for regular
    files under 1 MiB, a hash of the contents (a FIFO is never opened)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [
            d for d in dirnames if Path(dirpath, d).relative_to(root).parts[0] not in skip
        ]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st_ = p.lstat()
            digest = None
            if stat.S_ISREG(st_.st_mode) and st_.st_size < 1 << 20:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            snap[str(p.relative_to(root))] = (
                stat.S_IFMT(st_.st_mode),
                st_.st_size,
                st_.st_mode,
                st_.st_mtime_ns,
                digest,
            )
    return snap


def check(kind: str, argv, allowed, ws: Path, result=None):
    """Run ``argv`` (unless ``result`` is given) and assert the contract: an allowed exit
    code, one ``daxcheck: error:`` line on stderr for exit 2 and 3 (nothing otherwise), no
    traceback, bounded time, the working folder unchanged."""
    before = snapshot(ws)
    code, out, err, secs = result or run(argv)
    COUNT[kind] = COUNT.get(kind, 0) + 1
    shown = f"argv={argv!r} exit={code} stderr={err[-600:]!r}"
    assert "Traceback" not in out + err, shown
    assert code in allowed, shown
    lines = err.splitlines()
    if code in (2, 3):
        assert len(lines) == 1 and lines[0].startswith("daxcheck: error: "), shown
        assert "internal error" not in lines[0], shown
    else:
        assert not lines, shown
    assert secs < SECONDS, f"{shown}: {secs:.1f}s"
    assert snapshot(ws) == before, f"{shown}: the working folder changed"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The working folder (the current directory while fuzzing): a user's files of every
    kind that an input may name."""
    w = tmp_path_factory.mktemp("fuzz")
    for name in TRACES:
        shutil.copy(SHIPPED_DIR / name, w / name)
    (w / "counterexamples").mkdir()
    (w / "counterexamples" / (TRACES[0] + ".tmp")).write_text("a user's own notes\n")
    (w / "mine.json").write_text('{"mine": true}\n')
    (w / "notes.itf.json.tmp").write_text("a user's own notes\n")
    (w / "empty.py").write_text("")
    (w / "bad.py").write_text("def f(:\n")
    (w / "text.txt").write_text("not python at all\n")
    (w / "latin1.py").write_bytes(b"x = '\xe9'\n")
    (w / "adir").mkdir()
    os.mkfifo(w / "fifo")
    with open(w / "huge.itf.json", "wb") as f:  # sparse: 17 MiB, over the size cap
        f.truncate(17 << 20)
    (w / "small_manifest.json").write_text(json.dumps(_small_manifest(), indent=1))
    (w / "u").mkdir()
    (w / "out").mkdir()  # where an input may write (not snapshotted)
    return w


@contextlib.contextmanager
def inside(ws: Path):
    old = os.getcwd()
    os.chdir(ws)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        yield
    finally:
        os.chdir(old)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert grown < MAX_RSS_GROWTH_MB, f"peak memory grew by {grown:.0f} MB"


def _small_manifest() -> dict:
    doc = json.loads((SHIPPED_DIR / "manifest.json").read_text())
    doc["designs"] = {k: v for k, v in doc["designs"].items() if k == SMALL}
    return doc


# ---------------------------------------------------------------- 1. command lines
SPECIAL = [
    "fifo",
    "/dev/zero",
    "adir",
    "huge.itf.json",
    "no/such/file",
    "mine.json",
    "bad.py",
    "text.txt",
    "empty.py",
    "latin1.py",
    "x[/dim].itf.json",
    "ünï.py",
    "",
]
names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
bad_ints = st.one_of(
    st.sampled_from(["x", "-1", "1.5", "1e3", "", "0x10", "--", "nan", "9" * 5000]),
    names.filter(lambda t: not t.strip().isdigit()),
)
bad_floats = st.sampled_from(["0", "-1", "nan", "inf", "-inf", "x", "", "1e999", "0.0"])
COMMANDS = {
    "check": [
        "--design",
        "--property",
        "--depth",
        "--files",
        "--blocks",
        "--phys",
        "--tokens",
        "--procs",
        "--max-states",
        "--time-limit",
        "--out",
        "--json",
        "--junit",
        "--summary",
        "--designs",
        "--properties",
        "--engine",
    ],
    "simulate": [
        "--design",
        "--property",
        "--depth",
        "--runs",
        "--seed",
        "--time-limit",
        "--weights",
        "--files",
        "--out",
        "--json",
        "--designs",
        "--properties",
    ],
    "prove": [
        "--design",
        "--property",
        "--k",
        "--max-k",
        "--lemmas",
        "--time-limit",
        "--files",
        "--out",
        "--json",
        "--designs",
        "--properties",
    ],
    "replay": ["--design", "--pmem", "--crash-states", "--seed", "--designs", "--properties"],
    "view": ["--html"],
    "graph": ["--design", "--out", "--max-states", "--files", "--designs"],
    "gate": ["--design", "--time-limit", "--json", "--designs", "--properties"],
    "query": ["--time-limit"],
    "list": ["--designs", "--properties"],
    "oracle": ["--runs", "--seed", "--max-ops"],
}
BOUND_LIMITS = {
    "--files": (1, 3),
    "--blocks": (1, 3),
    "--phys": (1, 6),
    "--tokens": (1, 3),
    "--procs": (1, 2),
    "--depth": (0, 60),
}
INTS = {
    "--depth",
    "--files",
    "--blocks",
    "--phys",
    "--tokens",
    "--procs",
    "--max-states",
    "--runs",
    "--seed",
    "--k",
    "--max-k",
    "--max-ops",
    "--crash-states",
}
FLOATS = {"--time-limit"}
FILES_IN = {"--designs", "--properties", "--pmem"}
FILES_OUT = {"--json", "--junit", "--summary", "--html"}


@st.composite
def poison(draw, cmd: str) -> list[str]:
    """Tokens that make a command line bad input (exit 2) before any work is done."""
    flags = COMMANDS[cmd]
    kinds = ["unknown option", "extra"]
    kinds += [
        k
        for k, fs in (
            ("bad int", INTS),
            ("bad float", FLOATS),
            ("file in", FILES_IN),
            ("file out", FILES_OUT),
        )
        if set(flags) & fs
    ]
    if "--design" in flags:
        kinds.append("unknown design")
    if "--property" in flags:
        kinds.append("unknown property")
    if {"--files", "--depth"} & set(flags) and cmd != "replay":
        kinds.append("bound")
    if "--out" in flags:
        kinds.append("out is a file")
    kinds += {
        "simulate": ["weights"],
        "prove": ["max-k"],
        "check": ["engine"],
        "replay": ["trace"],
        "view": ["trace"],
        "gate": ["manifest"],
        "oracle": ["oracle range"],
        "query": ["query"],
        "list": ["what"],
        "graph": ["graph out"],
    }.get(cmd, [])
    kind = draw(st.sampled_from(kinds))
    pick = lambda fs: draw(st.sampled_from(sorted(set(flags) & fs)))  # noqa: E731
    if kind == "unknown option":
        return ["--zz" + draw(st.text("abcdefghij-_", max_size=8))]
    if kind == "extra":
        return ["zz" + draw(names)]
    if kind == "bad int":
        return [pick(INTS), draw(bad_ints)]
    if kind == "bad float":
        return [pick(FLOATS), draw(bad_floats)]
    if kind == "file in":
        return [pick(FILES_IN), draw(st.sampled_from(SPECIAL))]
    if kind == "file out":
        return [pick(FILES_OUT), draw(st.sampled_from(["adir", "fifo", "mine.json"]))]
    if kind == "unknown design":
        return ["--design", "zz" + draw(names)]
    if kind == "unknown property":
        return ["--property", "zz" + draw(names)]
    if kind == "bound":
        b = draw(
            st.sampled_from(
                [
                    f
                    for f in BOUND_LIMITS
                    if f in flags and not (cmd == "simulate" and f == "--depth")
                ]
            )
        )  # simulate's --depth: walk length
        lo, hi = BOUND_LIMITS[b]
        v = draw(
            st.one_of(
                st.integers(hi + 1, hi + 100),
                st.integers(hi + 1, 10**40),
                st.just(lo - 1).filter(lambda x: x >= 0),
            )
        )
        return [b, str(v)]
    if kind == "out is a file":
        return ["--out", "mine.json"]
    if kind == "weights":
        return [
            "--weights",
            draw(
                st.sampled_from(
                    ["x", "crash=-1", "crash=nan", "crash=inf", "=1", "crash", "crash=1,", "nope=1"]
                )
            ),
        ]
    if kind == "max-k":
        return [
            draw(st.sampled_from(["--max-k", "--k"])),
            draw(st.sampled_from(["0", "31", str(10**20)])),
        ]
    if kind == "engine":
        return ["--engine", draw(st.sampled_from(["z4", "", "EXPLICIT"]))]
    if kind == "trace":
        return [draw(st.sampled_from(SPECIAL + ["counterexamples"]))]
    if kind == "manifest":
        return [draw(st.sampled_from(SPECIAL))]
    if kind == "oracle range":
        return [
            draw(st.sampled_from(["--runs", "--max-ops"])),
            draw(st.sampled_from(["0", str(10**30), "1000001"])),
        ]
    if kind == "query":
        return ["zz" + draw(names)]
    if kind == "what":
        return [draw(st.sampled_from(["design", "", "zz", "Designs"]))]
    return ["--out", draw(st.sampled_from(["g.txt", "g", "adir", "fifo"]))]


@st.composite
def filler(draw, cmd: str, avoid: str = "") -> list[str]:
    """Valid, cheap options for ``cmd`` (never enough to start heavy work alone), never the
    option ``avoid`` (a later one would override the poison)."""
    flags = [f for f in COMMANDS[cmd] if f != avoid]
    out = []
    for _ in range(draw(st.integers(0, 3))):
        f = draw(st.sampled_from(flags + ["--traceback"]))
        if f == "--traceback":
            out.append(f)
        elif f == "--design":
            out += [f, draw(st.sampled_from([SMALL, "hole-size-unknown"]))]
        elif f == "--property":
            out += [f, draw(st.sampled_from(sorted(PROPERTIES)))]
        elif f in ("--depth", "--max-states", "--runs", "--seed", "--k", "--crash-states"):
            out += [f, str(draw(st.integers(1, 2)))]
        elif f == "--time-limit":
            out += [f, draw(st.sampled_from(["5", "0.5", "1e3"]))]
        elif f in ("--engine",):
            out += [f, "explicit"]
        elif f == "--lemmas":
            out += [f, "none"]
        elif f in ("--files", "--blocks", "--phys", "--tokens", "--procs"):
            out += [f, "1"]
    return out


@st.composite
def command_lines(draw) -> list[str]:
    cmd = draw(st.sampled_from(sorted(COMMANDS)))
    bad = draw(poison(cmd))
    fill = draw(filler(cmd, avoid=bad[0]))
    parts = [fill, bad]
    if cmd in ("replay", "view") and parts[1][0].startswith("-"):
        parts.insert(0, [draw(st.sampled_from(SPECIAL))])  # a bad positional as well
    if cmd == "view" and "--html" not in parts[1]:
        parts.append(["--html", "out/v.html"])
    if cmd == "graph" and "--out" not in parts[1]:
        parts.append(["--out", "out/g.graphml"])
    if cmd == "graph" and "--design" not in parts[0] + parts[1]:
        parts.append(["--design", SMALL])
    if cmd == "list" and parts[1][0].startswith("-"):
        parts.insert(0, ["designs"])
    order = draw(st.permutations(range(len(parts))))
    return [cmd] + [t for i in order for t in parts[i]]


@pytest.mark.parametrize("n", SIZES)
def test_fuzz_command_lines(ws, n):
    """>= n command lines, each bad in at least one way: exit 2, one line."""

    @settings(FUZZ, max_examples=n)
    @given(argv=command_lines())
    def one(argv):
        check("cli", argv, {2}, ws)

    before = COUNT.get("cli", 0)
    with inside(ws):
        one()
    assert COUNT.get("cli", 0) - before >= n


# ---------------------------------------------------------------- 2. corrupted traces
def _norm(v):
    """Independent of daxcheck's code: ``#bigint`` as ints, integrity dropped, sorted."""
    if isinstance(v, dict):
        if set(v) == {"#bigint"} and isinstance(v["#bigint"], str):
            try:
                return int(v["#bigint"])
            except ValueError:
                pass
        return {k: _norm(x) for k, x in v.items() if k != "integrity"}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _content(doc) -> str:
    meta = doc.get("#meta") if isinstance(doc, dict) else None
    return json.dumps(
        _norm({"#meta": meta, "vars": doc.get("vars"), "states": doc.get("states")}), sort_keys=True
    )


def _paths(doc, here=()):
    yield here
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, here + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, here + (i,))


def _deep(n: int):
    v = 0
    for _ in range(n):
        v = [v]
    return v


json_values = st.one_of(
    st.integers(-3, 300),
    st.integers(min_value=10**18, max_value=10**60),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    names,
    st.sampled_from(["written", "hole", "p0", "p9", "t1", "stale", "a", "P0", "none", "pfn"]),
    st.builds(lambda s: {"#bigint": s}, st.one_of(st.integers().map(str), names)),
    st.builds(lambda n: {"#map": [[i, 0] for i in range(n)]}, st.integers(0, 3)),
    st.integers(1, 300).map(_deep),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(names, st.integers(), max_size=2),
)


@st.composite
def corrupted_traces(draw):
    """``(file name, bytes, expected exit codes of replay without --design, with --design,
    of view)`` for a shipped trace mutated at the JSON level, then resealed, kept or stripped
    of its checksum, then maybe damaged byte-wise; or a special file."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(SPECIAL + ["counterexamples"])), None, {2}, {2}, {2}
    name = draw(st.sampled_from(TRACES))
    orig = json.loads((SHIPPED_DIR / name).read_text())
    doc = json.loads(json.dumps(orig))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(
                [
                    "delete",
                    "replace",
                    "replace",
                    "add",
                    "design",
                    "state",
                    "swap",
                    "duplicate",
                    "rename",
                ]
            )
        )
        meta, states = doc.get("#meta"), doc.get("states")
        if op == "design" and isinstance(meta, dict):
            meta["design"] = draw(st.sampled_from(sorted(DESIGNS)))
            continue
        if op == "state" and isinstance(states, list) and len(states) > 2:
            del states[draw(st.integers(1, len(states) - 2))]
            continue
        paths = [p for p in _paths(doc) if p]
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "add" and isinstance(parent, dict):
            parent[draw(names)] = draw(json_values)
        elif op in ("swap", "duplicate") and isinstance(parent, list):
            j = draw(st.integers(0, len(parent) - 1))
            if op == "swap":
                parent[key], parent[j] = parent[j], parent[key]
            else:
                parent.insert(j, json.loads(json.dumps(parent[key])))
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(names)] = parent.pop(key)
    seal = draw(st.sampled_from(["keep", "keep", "reseal", "strip"]))
    meta = doc.get("#meta")
    if seal == "reseal" and isinstance(meta, dict):
        from daxcheck.checker.trace import integrity_digest

        try:
            meta["integrity"] = {"sha256": integrity_digest(doc)}
        except (TypeError, ValueError, AttributeError, RecursionError):
            seal = "keep"
    elif seal == "strip" and isinstance(meta, dict):
        meta.pop("integrity", None)
    data = json.dumps(doc, indent=draw(st.sampled_from([None, 1])), ensure_ascii=False)
    data = data.encode("utf-8")
    byte_op = draw(st.sampled_from(["none"] * 4 + ["truncate", "flip", "insert", "bom"]))
    if byte_op == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif byte_op == "flip":
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    elif byte_op == "insert":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.sampled_from([b"\xff", b"\x00", b"\xc3", b"]", b"{"])) + data[i:]
    elif byte_op == "bom":
        data = b"\xef\xbb\xbf" + data
    # What each command may answer, decided without daxcheck's code:
    try:
        final = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        final = None
    if not isinstance(final, dict) or not isinstance(final.get("#meta"), dict):
        return "t.itf.json", data, {2}, {2}, {2}
    try:
        same = _content(final) == _content(orig)
        same_as_sealed = _content(final) == _content(doc)
    except (TypeError, ValueError, RecursionError):
        same = same_as_sealed = False
    has = "integrity" in final["#meta"]
    if has and final["#meta"]["integrity"] == orig["#meta"]["integrity"]:
        if same:  # untouched content: the trace daxcheck wrote
            return "t.itf.json", data, {12}, {0, 2, 12}, {0}
        return "t.itf.json", data, {2}, {2}, {2}  # edited: tampered
    if has and seal == "reseal" and same_as_sealed:  # a consistent file with a checksum
        return "t.itf.json", data, {0, 2, 12}, {0, 2, 12}, {0, 2}
    if has:
        return "t.itf.json", data, {2}, {2}, {2}
    return "t.itf.json", data, {2}, {0, 2, 12}, {0, 2}  # no checksum: --design only


@pytest.mark.parametrize("n", SIZES)
def test_fuzz_corrupted_traces(ws, n):
    """>= n corrupted traces through replay, replay --design and view: exit 2 with
    one line for anything malformed, special or tampered, never "fixed" (exit 0) for a
    tampered trace."""

    @settings(FUZZ, max_examples=n)
    @given(
        case=corrupted_traces(),
        how=st.sampled_from(["replay", "replay", "design", "view"]),
        design=st.sampled_from([SMALL, "hole-size-unknown", "cow-srcmap"]),
    )
    def one(case, how, design):
        name, data, plain, other, view = case
        path = name
        if data is not None:
            path = f"out/{name}"
            Path(path).write_bytes(data)
        if how == "replay":
            check("itf", ["replay", path, "--crash-states", "4"], plain, ws)
        elif how == "design":
            check("itf", ["replay", path, "--design", design, "--crash-states", "4"], other, ws)
        else:
            check("itf", ["view", path, "--html", "out/v.html"], view, ws)

    before = COUNT.get("itf", 0)
    with inside(ws):
        one()
    assert COUNT.get("itf", 0) - before >= n


def test_fuzz_manifests(ws):
    """A smaller set: corrupted gate manifests (exit 2 for malformed ones; a well-formed
    one gates: 0 or 1)."""
    orig = _small_manifest()

    @settings(FUZZ, max_examples=max(EXAMPLES_DEFAULT // 5, 20))
    @given(
        path=st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
        value=json_values,
        op=st.sampled_from(["delete", "replace"]),
    )
    def one(path, value, op):
        doc = json.loads(json.dumps(orig))
        paths = [p for p in _paths(doc) if p]
        p = paths[path[0] % len(paths)]
        parent = doc
        for k in p[:-1]:
            parent = parent[k]
        if op == "delete":
            del parent[p[-1]]
        else:
            parent[p[-1]] = value
        Path("out/m.json").write_text(json.dumps(doc))
        check("manifest", ["gate", "out/m.json", "--no-replay", "--quiet"], {0, 1, 2}, ws)

    with inside(ws):
        one()


# ---------------------------------------------------------------- 3. user files
PRED = '''from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """A user's invariant."""
    return {body}
'''
HOOK = """import dataclasses
from daxcheck.spec.designs import DESIGNS, Design, register_design


@dataclasses.dataclass(frozen=True)
class Mine(Design):
    def {hook}:
        {body}


register_design(Mine(**{{**{{f.name: getattr(DESIGNS["iomap-hole-size"], f.name)
                           for f in dataclasses.fields(Design)}}, "name": "mine"}}))
"""
RAISES = [
    "1 / 0",
    "[][1]",
    "{}['k']",
    "None.x",
    "int('x')",
    "__import__('sys').exit(0)",
    "__import__('sys').exit('bye')",
    "(_ for _ in ()).throw(KeyboardInterrupt())",
    "(_ for _ in ()).throw(GeneratorExit())",
    "(_ for _ in ()).throw(MemoryError())",
    "(_ for _ in ()).throw(StopIteration())",
    "(_ for _ in ()).throw(BaseException('b'))",
    "__import__('nosuchmodule')",
    "s[10**6]",
    "L.nosuchfield",
]
NON_BOOLS = [
    "'yes'",
    "5",
    "[0]",
    "None",
    "0.0",
    "1.0",
    "object()",
    "s",
    "L",
    "{}",
    "(1,)",
    "b''",
    "float('nan')",
]
EXCEPTIONS = [
    "ValueError('v')",
    "SystemExit(0)",
    "SystemExit('text')",
    "SystemExit(None)",
    "KeyboardInterrupt()",
    "GeneratorExit()",
    "MemoryError()",
    "RecursionError()",
    "StopIteration()",
    "BaseException('b')",
    "ImportError('i')",
    "Exception()",
]
BAD_NAMES = [
    "5",
    "None",
    "''",
    "'../x'",
    "'a/b'",
    "'a b'",
    "'[x]'",
    "'x' * 101",
    "'désign'",
    "('t',)",
    "1.5",
    "'-lead'",
    "'.hidden'",
]


@st.composite
def user_files(draw):
    """``(source bytes, flag, extra argv, expected exit code)``."""
    kind = draw(
        st.sampled_from(
            [
                "garbage",
                "import raises",
                "exit",
                "design name",
                "property name",
                "entry",
                "decoration",
                "predicate raises",
                "non-bool",
                "domain",
                "hook",
                "bytes",
            ]
        )
    )
    props = ["--property", "mine"]
    if kind == "garbage":
        src = draw(st.text(max_size=200))
        return (
            src.encode("utf-8", "surrogatepass"),
            draw(st.sampled_from(["--designs", "--properties"])),
            [],
            2,
        )
    if kind == "import raises":
        return (
            f"raise {draw(st.sampled_from(EXCEPTIONS))}\n".encode(),
            draw(st.sampled_from(["--designs", "--properties"])),
            [],
            2,
        )
    if kind == "exit":
        code = draw(st.one_of(st.integers(-300, 300), st.none(), names).map(repr))
        return (
            f"import sys\nsys.exit({code})\n".encode(),
            draw(st.sampled_from(["--designs", "--properties"])),
            [],
            2,
        )
    if kind == "design name":
        return (
            (
                f"from daxcheck.spec.designs import DESIGNS, register_design\n"
                f"register_design(DESIGNS['{SMALL}'].variant(name="
                f"{draw(st.sampled_from(BAD_NAMES))}))\n"
            ).encode(),
            "--designs",
            [],
            2,
        )
    if kind == "property name":
        bad = draw(st.sampled_from([n for n in BAD_NAMES if n != "None"]))  # None: default
        return (
            PRED.format(body="True").replace("@invariant", f"@invariant(name={bad})").encode(),
            "--properties",
            [],
            2,
        )
    if kind == "entry":
        reg = draw(
            st.sampled_from(
                [
                    ("daxcheck.spec.designs", "DESIGNS"),
                    ("daxcheck.properties", "PROPERTIES"),
                    ("daxcheck.properties", "LEMMAS"),
                    ("daxcheck.spec.ops", "ACTIONS"),
                ]
            )
        )
        value = draw(
            st.sampled_from(
                ["5", "'s'", "None", "lambda L, s: True", "object()", "int", "DESIGNS_OR_NOT"]
            )
        )
        src = f"from {reg[0]} import {reg[1]}\nDESIGNS_OR_NOT = [1]\n{reg[1]}['x'] = {value}\n"
        return src.encode(), draw(st.sampled_from(["--designs", "--properties"])), [], 2
    if kind == "decoration":
        src = draw(
            st.sampled_from(
                [
                    "from daxcheck.properties import invariant\ninvariant(5)\n",
                    "from daxcheck.properties import invariant\n@invariant\nclass C:\n    'doc'\n",
                    "from daxcheck.properties import invariant\n@invariant\ndef p(L, s):\n    return True\n",
                    "from daxcheck.properties import invariant\n@invariant\ndef p(L):\n    'doc'\n",
                    "from daxcheck.properties import invariant\n"
                    "@invariant(each=[1])\ndef p(L, s, i):\n    'doc'\n",
                    "from daxcheck.properties import lemma\n@lemma(each=3)\ndef p(L, s, i):\n    'doc'\n",
                    "from daxcheck.properties import invariant\n@invariant(name='no_stale_data')\n"
                    "def p(L, s):\n    'doc'\n    return True\n",
                ]
            )
        )
        return src.encode(), "--properties", [], 2
    if kind == "predicate raises":
        return PRED.format(body=draw(st.sampled_from(RAISES))).encode(), "--properties", props, 3
    if kind == "non-bool":
        return PRED.format(body=draw(st.sampled_from(NON_BOOLS))).encode(), "--properties", props, 3
    if kind == "domain":
        dom = draw(
            st.sampled_from(
                [
                    "lambda L: 5",
                    "lambda L: None",
                    "lambda L: 'ab'",
                    "lambda L: 1 / 0",
                    "lambda L: __import__('sys').exit(1)",
                    "lambda L: {1: 2}",
                ]
            )
        )
        src = (
            PRED.format(body="True")
            .replace("@invariant", f"@invariant(each={dom})")
            .replace("def mine(L, s)", "def mine(L, s, item)")
        )
        return src.encode(), "--properties", props, 3
    if kind == "hook":
        hook = draw(
            st.sampled_from(["hole_length(self, L, s, f, x, want)", "cow_allowed(self, L, s, f)"])
        )
        body = draw(st.sampled_from([f"raise {e}" for e in EXCEPTIONS] + [r for r in RAISES]))
        return (
            HOOK.format(
                hook=hook, body=body if body.startswith("raise") else f"return {body}"
            ).encode(),
            "--designs",
            ["--design", "mine", "--property", "no_stale_data"],
            3,
        )
    raw = draw(
        st.sampled_from(
            [
                b"x = '\xff\xfe'\n",
                b"\x00\x00",
                b"x = 1\x00\n",
                b"# -*- coding: nosuch -*-\n",
                b"\xef\xbb\xbfraise SystemExit\n",
            ]
        )
    )
    return raw, draw(st.sampled_from(["--designs", "--properties"])), [], 2


@pytest.mark.parametrize("n", SIZES)
def test_fuzz_user_files(ws, n):
    """>= n user files: one that cannot be loaded is exit 2, one whose code raises
    (or returns a non-bool) while checking is exit 3; one line naming the file."""

    @settings(FUZZ, max_examples=n)
    @given(
        case=user_files(),
        name=st.sampled_from(["u/mine.py", "u/x.txt", "u/noext", "u/[b].py", "u/a b.py", "u/ü.py"]),
    )
    def one(case, name):
        source, flag, extra, code = case
        Path(name).write_bytes(source)
        argv = [
            "check",
            flag,
            name,
            "--design",
            SMALL,
            "--depth",
            "1",
            "--no-write",
            "--quiet",
            *extra,
        ]
        if "--design" in extra:
            argv[3:5] = []
        check("user", argv, {code}, ws)

    before = COUNT.get("user", 0)
    with inside(ws):
        one()
    assert COUNT.get("user", 0) - before >= n


# ---------------------------------------------------------------- across a process boundary
def _daxcheck(args, cwd, timeout=60, preexec=None):
    return subprocess.run(
        [sys.executable, "-m", "daxcheck", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        preexec_fn=preexec,
    )


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize(
    "args",
    [
        ["replay", "fifo"],
        ["replay", "/dev/zero"],
        ["view", "fifo", "--html", "out/v.html"],
        ["check", "--properties", "fifo"],
        ["gate", "/dev/zero"],
        ["check", "--json", "fifo"],
    ],
)
def test_special_files_neither_block_nor_exhaust_memory(ws, args):
    """In a separate process with 1 GiB of address space: a FIFO nobody writes to and an
    endless device are refused at once."""
    r = _daxcheck(args, ws, timeout=60, preexec=_limit_memory)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "not a regular" in r.stderr


def test_ctrl_c_at_any_moment_is_one_line(ws):
    """SIGINT sent at several moments of a run (imports, loading, exploring): exit 130 with
    "interrupted" (or the run's own code when it finished first), never a traceback.  The
    moments count from the line the child writes just before ``daxcheck.__main__.run``
    (whose first line installs the handlers): a Ctrl-C while Python itself starts or finds
    the package is Python's, and on a loaded machine that can take longer than any fixed
    delay."""
    start = (
        "import sys; import daxcheck.__main__ as m; sys.stderr.write('started\\n'); "
        "sys.stderr.flush(); sys.argv[0] = 'daxcheck'; raise SystemExit(m.run())"
    )
    for delay in (0.05, 0.15, 0.4, 0.8):
        p = subprocess.Popen(
            [
                sys.executable,
                "-c",
                start,
                "check",
                "--design",
                "cow-srcmap",
                "--no-write",
                "--quiet",
            ],
            cwd=ws,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert p.stderr.readline() == "started\n"
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert p.returncode in (130, 0, 12), (delay, p.returncode, err)
        if p.returncode == 130:
            assert err.strip().endswith("daxcheck: interrupted")


# ---------------------------------------------------------------- the issue's own cases
def _edit(f):
    """A copy of the small shipped trace edited by ``f`` and resealed (so that the check
    after the checksum is the one exercised), as a path."""
    from daxcheck.checker.trace import integrity_digest

    doc = json.loads((SHIPPED_DIR / TRACES[0]).read_text())
    f(doc)
    doc["#meta"]["integrity"] = {"sha256": integrity_digest(doc)}
    Path("out/case.itf.json").write_text(json.dumps(doc))
    return "out/case.itf.json"


ISSUE_CASES = [
    (
        lambda: ["replay", _edit(lambda d: d["#meta"].update(design={"#bigint": "5"}))],
        "field #meta.design holds {'#bigint': '5'}, not a string",
    ),
    (
        lambda: ["replay", _edit(lambda d: d["states"][1]["#meta"]["args"].update(file="x"))],
        "field states[1].#meta.args.file holds 'x', not an integer or a boolean",
    ),
    (
        lambda: ["replay", _edit(lambda d: d["states"][1]["#meta"]["args"].update(proc=0.0))],
        "are not the arguments of mmap(proc=P0, file=a, sync=false)",
    ),
    (
        lambda: ["replay", _edit(lambda d: d["#meta"]["bounds"].pop("depth"))],
        "field #meta.bounds.depth is missing",
    ),
    (lambda: ["replay", "fifo"], "fifo: is a FIFO, not a regular trace file"),
    (lambda: ["replay", "/dev/zero"], "is a character device, not a regular trace file"),
    (lambda: ["replay", "latin1.py"], "not UTF-8 text"),
    (lambda: ["check", "--properties", "text.txt"], "text.txt line 1: SyntaxError"),
    (lambda: ["prove", "--max-k", "0"], "max-k must be an int in 1..30"),
    (
        lambda: ["oracle", "--max-ops", str(10**30)],
        "--max-ops 1000000000000000000000000000000 is out of range 1..100",
    ),
    (lambda: ["check", "--time-limit", "inf"], "'inf' is not a finite number"),
    (lambda: ["gate", ""], "manifest: an empty path"),
]


@pytest.mark.parametrize("case", range(len(ISSUE_CASES)))
def test_the_cases_issue_12_lists(ws, case):
    """Inputs that gave tracebacks (or silent defaults) on the old main: one line, exit 2."""
    make, expect = ISSUE_CASES[case]
    with inside(ws):
        argv = make()
        check("issue", argv, {2}, ws)
        assert expect in run(argv)[2]


@pytest.mark.parametrize(
    "pmem,code",
    [
        ("fifo", 2),
        ("/dev/zero", 2),
        ("adir", 2),
        ("mine.json", 2),
        ("no/such", 2),
        ("huge.itf.json", 12),
    ],
)
def test_replay_pmem_on_special_files(ws, pmem, code):
    """``replay --pmem``: special and small files refused with one line; a big enough user
    file is replayed on a copy next to it, which is removed again (folder unchanged)."""
    with inside(ws):
        check("pmem", ["replay", TRACES[0], "--pmem", pmem, "--crash-states", "4"], {code}, ws)


# ---------------------------------------------------------------- 4. contained (issue 27)
# Three categories of :data:`CONTAINED` generated cases each: hangs and signal games (real
# supervised child processes, a wall-clock bound per case) and resealed edits (traces and
# checkpoints edited, then resealed so that the seal passes and the content checks are the
# ones exercised).  A child process costs seconds, so the default run takes a deterministic
# subset of :data:`CONTAINED_DEFAULT` cases per category, and ``-m thorough`` the
# :data:`CONTAINED` (``DAXCHECK_FUZZ_CONTAINED=N`` for more).
CONTAINED = max(200, int(os.environ.get("DAXCHECK_FUZZ_CONTAINED", "200")))
"""Cases per category under ``-m thorough`` (the issue asks for at least 200)."""
CONTAINED_DEFAULT = 6
"""Signal-game cases in the default run (the first of the thorough run's deterministic
sequence)."""
HANGS_DEFAULT = 4
"""Hang cases in the default run (one that defeats the in-process deadline costs ~10 s of
wall clock: the supervisor's grace periods)."""
EDITS_DEFAULT = 30
"""Cases per resealed-edit category in the default run (in process, ~0.3 s each)."""
PROCESS_BOUND = 60.0
"""Seconds one supervised case may take (a 1 s time limit, the supervisor's 5 s grace and
2 s kill grace, a 10 s stop grace for a worker that ignores a passed-on signal, and a slow
interpreter start on a loaded machine)."""
PARALLEL = 4
"""Child processes run at once."""

HANG_LOOPS = [
    "while True:\n    pass",
    "time.sleep(10**6)",
    "threading.Event().wait()",
    "sum(range(10**15))",
    "select.select([], [], [])",
    "while True:\n    try:\n        time.sleep(10**6)\n    except BaseException:\n        pass",
]
"""Ways never to return (``sum(range(...))`` runs in C: no Python handler runs inside)."""
DEFEATS = [
    "",
    "signal.alarm(0)",
    "signal.setitimer(signal.ITIMER_REAL, 0)",
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)",
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
    "signal.pthread_sigmask(signal.SIG_BLOCK, {sigs})",
    "signal.signal(signal.SIGALRM, lambda *a: None)",
    "threading.Thread(target=lambda: time.sleep(10**6)).start()",
]
"""What a user's code does first to escape a deadline."""
SIG_SETS = [
    "{signal.SIGALRM}",
    "{signal.SIGTERM}",
    "{signal.SIGALRM, signal.SIGTERM}",
    "{signal.SIGALRM, signal.SIGTERM, signal.SIGINT}",
]
USER_FILE = '''import os, select, signal, sys, threading, time
from daxcheck.properties import invariant
{top}

@invariant
def mine(L, s):
    """A user's invariant."""
{body}
    return True
'''


def _indent(code: str, n: int = 4) -> str:
    return "\n".join(" " * n + line for line in code.split("\n"))


def hang_case(i: int) -> dict:
    """Case ``i`` of the hangs category: where the user's code hangs (while its file is
    imported, or in a predicate), how (:data:`HANG_LOOPS`), after which escape
    (:data:`DEFEATS`); or a file that only starts a non-daemon thread and returns."""
    import random

    r = random.Random(f"hang {i}")
    loop = r.choice(HANG_LOOPS)
    defeat = r.choice(DEFEATS).format(sigs=r.choice(SIG_SETS))
    where = r.choice(["import", "predicate", "predicate", "thread only"])
    code = "\n".join(x for x in (defeat, loop) if x)
    if where == "import":
        src = USER_FILE.format(top=code, body="    pass")
    elif where == "predicate":
        src = USER_FILE.format(top="", body=_indent(code))
    else:
        src = USER_FILE.format(
            top="threading.Thread(target=lambda: time.sleep(10**6)).start()", body="    pass"
        )
    return {
        "src": src,
        "where": where,
        "what": f"{where}: {defeat or 'plain'}; {loop}",
        "argv": [
            "check",
            "--design",
            SMALL,
            "--depth",
            "2",
            "--no-write",
            "--quiet",
            "--properties",
            "u.py",
            "--property",
            "mine",
            "--time-limit",
            "1",
        ],
    }


def signal_case(i: int) -> dict:
    """Case ``i`` of the signal-games category: the user's file replaces or blocks
    daxcheck's handlers (at import or in a predicate), and SIGINT or SIGTERM (or nothing,
    or two signals) reaches ``daxcheck`` at a random moment after it started its worker
    (the first ~50 ms of a process, while Python itself starts, are Python's)."""
    import random

    r = random.Random(f"signal {i}")
    game = r.choice(
        [
            "",
            "signal.signal(signal.SIGINT, signal.SIG_IGN)",
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
            "signal.signal(signal.SIGINT, signal.SIG_DFL)",
            "signal.signal(signal.SIGTERM, signal.SIG_DFL)",
            "signal.signal(signal.SIGINT, lambda *a: None)",
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))",
            "signal.signal(signal.SIGINT, lambda *a: 1 / 0)",
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})",
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})",
        ]
    )
    where = r.choice(["import", "predicate"])
    src = USER_FILE.format(
        top=game if where == "import" else "",
        body=_indent(game) if where == "predicate" and game else "    pass",
    )
    sigs = r.choice(
        [
            [],
            [signal.SIGINT],
            [signal.SIGTERM],
            [signal.SIGINT, signal.SIGINT],
            [signal.SIGTERM, signal.SIGINT],
        ]
    )
    delays = sorted(round(r.uniform(0.0, 3.5), 2) for _ in sigs)  # after the worker starts
    return {
        "src": src,
        "sigs": sigs,
        "delays": delays,
        "what": f"{where}: {game or 'plain'}; signals {[s.name for s in sigs]} after {delays}s",
        "argv": [
            "check",
            "--design",
            "cow-srcmap",
            "--no-write",
            "--quiet",
            "--properties",
            "u.py",
        ],
    }


def _supervised(case: dict, folder: Path) -> tuple[int, str, float, str]:
    """Run ``python -m daxcheck`` (supervised) on ``case`` in ``folder``, sending its
    signals after their delays; ``(exit code, stderr, seconds, stdout)``.  A run past
    :data:`PROCESS_BOUND` is killed and reported as a hang (exit None)."""
    folder.mkdir()
    (folder / "u.py").write_text(case["src"])
    t0 = time.monotonic()
    p = subprocess.Popen(
        [sys.executable, "-m", "daxcheck", *case["argv"]],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = t0
    if case.get("sigs"):  # from when daxcheck has started its worker (its handlers are
        ready = _worker_started(p, t0 + PROCESS_BOUND)  # set: before, Python's own apply)
    for sig, delay in zip(case.get("sigs", []), case.get("delays", [])):
        try:
            p.wait(max(0.0, ready + delay - time.monotonic()))
            break  # ended before the signal
        except subprocess.TimeoutExpired:
            p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=max(1.0, t0 + PROCESS_BOUND - time.monotonic()))
        code = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        code = None
    return code, err, time.monotonic() - t0, out


def _worker_started(p, until: float) -> float:
    """Wait until process ``p`` has a child (daxcheck's worker) or has ended; the time."""
    while time.monotonic() < until and p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                if f.read().split():
                    break
        except OSError:
            break
        time.sleep(0.02)
    return time.monotonic()


def _run_cases(make, n: int, tmp_path: Path) -> list[tuple[dict, tuple]]:
    """Cases ``make(0..n-1)`` run :data:`PARALLEL` at a time; ``[(case, outcome)]``."""
    from concurrent.futures import ThreadPoolExecutor

    cases = [make(i) for i in range(n)]
    with ThreadPoolExecutor(PARALLEL) as pool:
        outs = list(
            pool.map(lambda ic: _supervised(ic[1], tmp_path / f"c{ic[0]}"), enumerate(cases))
        )
    return list(zip(cases, outs))


def _no_traceback_one_line(case, code, err, secs, lines=1):
    shown = f"{case['what']}: exit {code} after {secs:.1f}s, output {err[-800:]!r}"
    assert code is not None, f"hang: {shown}"
    assert secs < PROCESS_BOUND, shown
    assert "Traceback" not in err and "internal error" not in err, shown
    if lines < 99:
        assert len(err.strip().splitlines()) <= lines, shown
        assert all(x.startswith("daxcheck: ") for x in err.strip().splitlines()), shown
    return shown


def _hangs(n, tmp_path):
    for case, (code, err, secs, out) in _run_cases(hang_case, n, tmp_path):
        shown = _no_traceback_one_line(case, code, err + out, secs, lines=99)
        _no_traceback_one_line(case, code, err, secs)
        if case["where"] == "thread only":
            assert code == 0 and not err, shown  # mine holds; the thread is left
        else:  # the verdict table's "incomplete:" line, or the supervisor's one line
            assert code == 75 and "time limit 1s reached" in err + out, shown


def _signal_games(n, tmp_path):
    for case, (code, err, secs, out) in _run_cases(signal_case, n, tmp_path):
        assert "Traceback" not in out, case["what"]
        shown = _no_traceback_one_line(case, code, err, secs, lines=2)
        allowed = {0}  # cow-srcmap holds every property
        if signal.SIGINT in case["sigs"]:
            allowed |= {130}
        if signal.SIGTERM in case["sigs"]:
            allowed |= {143}
        if "1 / 0" in case["src"] or "sys.exit" in case["src"]:
            allowed |= {3}  # the user's handler raised
        assert code in allowed, shown
        if code == 0:
            assert err == "" or err.strip() == "daxcheck: interrupted", shown


def test_fuzz_hangs(tmp_path):
    """HANGS_DEFAULT hang cases (the first of the thorough run's sequence): a user's
    code that never returns, at import or in a predicate, after disarming the alarm,
    ignoring or blocking signals, or in C, ends with exit 75 and one line within the
    wall-clock bound; a stray non-daemon thread neither hangs daxcheck nor prints."""
    _hangs(HANGS_DEFAULT, tmp_path)


@pytest.mark.thorough
def test_fuzz_hangs_all(tmp_path):
    """The hangs category at full size (>= 200 cases)."""
    _hangs(CONTAINED, tmp_path)


def test_fuzz_signal_games(tmp_path):
    """CONTAINED_DEFAULT signal games: handlers a user's file replaces or blocks, SIGINT /
    SIGTERM at random moments (once or twice): exit 0 (finished first), 130 / 143, or 3
    when the user's own handler raised; at most the interrupt line and one more, never a
    traceback, never a hang."""
    _signal_games(CONTAINED_DEFAULT, tmp_path)


@pytest.mark.thorough
def test_fuzz_signal_games_all(tmp_path):
    """The signal-games category at full size (>= 200 cases)."""
    _signal_games(CONTAINED, tmp_path)


# resealed edits: a trace or a checkpoint edited, then resealed
def _leaves(value, here=()):
    """Paths to the scalar leaves (int, bool, str) inside a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, here + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, here + (i,))
    elif isinstance(value, (bool, int, str)):
        yield here


def _get(value, path):
    for k in path:
        value = value[k]
    return value


def _set(value, path, new):
    _get(value, path[:-1])[path[-1]] = new


def _other(r, old, pool=()):
    """A value of ``old``'s JSON type that differs from it."""
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return old + r.choice([-2, -1, 1, 2, 7, 1 << 33])
    choices = [p for p in pool if isinstance(p, str) and p != old] + [old + "x", ""]
    if old.lstrip("-").isdigit():  # an ITF #bigint
        choices.append(str(int(old) + r.choice([-1, 1, 1 << 40])))
    return r.choice(choices)


def trace_edit(i: int, doc: dict) -> tuple[str, dict]:
    """Edit ``i`` of a trace document (a copy, resealed): ``(kind, document)``; kind
    "harmless" edits only text no check reads (the command line), or the depth bound to
    one the trace still fits in (the same states, the same violation)."""
    import copy
    import random

    r = random.Random(f"trace edit {i}")
    doc = copy.deepcopy(doc)
    meta = doc["#meta"]
    kind = r.choice(
        ["state", "state", "arg", "settings", "design", "property", "bounds", "harmless"]
    )
    strings = sorted(
        {s for st_ in doc["states"] for p in _leaves(st_) if isinstance(s := _get(st_, p), str)}
    )
    if kind == "state":
        n = r.randrange(len(doc["states"]))
        field_ = r.choice([k for k in doc["states"][n] if k != "#meta"])
        path = r.choice(list(_leaves(doc["states"][n][field_])) or [()])
        if path == ():
            doc["states"][n][field_] = _other(r, doc["states"][n][field_], strings)
        else:
            _set(
                doc["states"][n][field_],
                path,
                _other(r, _get(doc["states"][n][field_], path), strings),
            )
    elif kind == "arg":
        n = r.randrange(1, len(doc["states"]))
        args = doc["states"][n]["#meta"]["args"]
        key = r.choice(sorted(args))
        args[key] = _other(r, args[key])
    elif kind == "settings":
        key = r.choice(sorted(meta["design_settings"]))
        seen = {getattr(d, key, None) for d in DESIGNS.values()}
        meta["design_settings"][key] = _other(
            r, meta["design_settings"][key], sorted(v for v in seen if isinstance(v, str))
        )
    elif kind == "design":
        meta["design"] = r.choice([d for d in DESIGNS if d != meta["design"]])
    elif kind == "property":
        meta["property"] = r.choice([p for p in PROPERTIES if p != meta["property"]])
    elif kind == "bounds":
        key = r.choice(sorted(meta["bounds"]))
        meta["bounds"][key] = _other(r, meta["bounds"][key])
        if key == "depth" and meta["bounds"][key] >= len(doc["states"]) - 1:
            kind = "harmless"  # a search bound the trace still fits in: the same states
    else:
        meta["command"] = meta.get("command", "") + r.choice([" --quiet", "x", ""])
    from daxcheck.checker.trace import integrity_digest

    meta["integrity"] = {"sha256": integrity_digest(doc)}
    return kind, doc


def _violated_at_end(trace: str) -> set[str]:
    """The properties violated in the final state of a shipped ``trace`` (on the spec)."""
    from daxcheck.checker.replay import replay_spec
    from daxcheck.checker.trace import integrity_digest

    doc = json.loads((SHIPPED_DIR / trace).read_text())
    out = set()
    for p in PROPERTIES:
        doc["#meta"]["property"] = p
        doc["#meta"]["integrity"] = {"sha256": integrity_digest(doc)}
        Path("out/probe.itf.json").write_text(json.dumps(doc))
        if replay_spec("out/probe.itf.json", on_design=doc["#meta"]["design"]).reproduced:
            out.add(p)
    return out


def _resealed_traces(ws, n):
    with inside(ws):
        docs = {t: json.loads((SHIPPED_DIR / t).read_text()) for t in TRACES}
        violated = {t: _violated_at_end(t) for t in TRACES}
        for i in range(n):
            t = TRACES[i % len(TRACES)]
            kind, doc = trace_edit(i, docs[t])
            Path("out/e.itf.json").write_text(json.dumps(doc))
            ok = {2}
            if kind == "harmless" or (
                kind == "property" and doc["#meta"]["property"] in violated[t]
            ):
                ok = {2, 12}  # the same file, or a true claim of another property
            check("resealed", ["replay", "out/e.itf.json", "--crash-states", "4"], ok, ws)
            check(
                "resealed",
                ["view", "out/e.itf.json", "--html", "out/v.html"],
                {0, 2} if 12 in ok else {2},
                ws,
            )


def test_fuzz_resealed_traces(ws):
    """EDITS_DEFAULT edited and resealed traces (states, action arguments, design settings,
    design, property, bounds): replay and view refuse each with one line (exit 2), never a
    reproduction of something the spec does not compute; an edit of the command line only,
    or a property the final state violates too, may replay as before."""
    _resealed_traces(ws, EDITS_DEFAULT)


@pytest.mark.thorough
def test_fuzz_resealed_traces_all(ws):
    """The resealed-trace category at full size (>= 200 cases)."""
    _resealed_traces(ws, CONTAINED)


CK_ARGV = ["check", "--design", "hole-size-unknown", "--depth", "4", "--no-write", "--quiet"]


def checkpoint_edit(i: int, folder: Path) -> str:
    """Edit ``i`` of the checkpoint in ``folder`` (in place), resealed: one value of a
    ``.npy`` array or of ``state.json`` changed (or an array zeroed, cut or extended, or a
    field of ``MANIFEST.json``); returns what was done."""
    import random

    import numpy as np

    r = random.Random(f"checkpoint edit {i}")
    man = json.loads((folder / "MANIFEST.json").read_text())
    gen = folder / man["folder"]
    name = r.choice(sorted(man["files"]) + ["MANIFEST.json"])
    if name == "MANIFEST.json":
        key = r.choice(["level", "states", "mid_level", "design"])
        man[key] = _other(r, man[key])
        (folder / "MANIFEST.json").write_text(json.dumps(man, indent=1))
        return f"MANIFEST.json {key}"
    if name.endswith(".json"):
        doc = json.loads((gen / name).read_text())
        path = r.choice(list(_leaves(doc)))
        _set(doc, path, _other(r, _get(doc, path), ["hole-size-unknown", "uint16", "x"]))
        data = json.dumps(doc).encode()
        what = f"{name} {'.'.join(map(str, path))}"
    else:
        a = np.load(io.BytesIO((gen / name).read_bytes()), allow_pickle=False)
        how = r.choice(["flip", "flip", "set", "zero", "cut", "extend"])
        if a.size == 0 or how == "extend":
            a = np.concatenate([a, a[:1] if a.size else np.ones((1,) + a.shape[1:], a.dtype)])
        elif how == "cut":
            a = a[:-1]
        elif how == "zero":
            a = np.zeros_like(a)
        else:
            flat = a.reshape(-1).copy()
            k = r.randrange(flat.size)
            if flat.dtype == bool:
                flat[k] = not flat[k]
            elif how == "flip":
                flat[k] ^= flat.dtype.type(1 << r.randrange(flat.dtype.itemsize * 8))
            else:
                flat[k] = flat.dtype.type(r.choice([0, 1, np.iinfo(flat.dtype).max]))
            a = flat.reshape(a.shape)
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        data = buf.getvalue()
        what = f"{name} {how}"
    (gen / name).write_bytes(data)
    man["files"][name] = [len(data), hashlib.sha256(data).hexdigest()]
    (folder / "MANIFEST.json").write_text(json.dumps(man, indent=1))
    return what


def _results(path) -> list:
    return [
        {k: v for k, v in row.items() if k != "seconds"}
        for row in json.loads(Path(path).read_text())["results"]
    ]


def _resealed_checkpoints(ws, n):
    with inside(ws):
        shutil.rmtree("out/ck_ref", ignore_errors=True)
        ref_code = run([*CK_ARGV, "--checkpoint", "out/ck_ref", "--json", "out/ref.json"])[0]
        ref = _results("out/ref.json")
        for i in range(n):
            shutil.rmtree("out/ck", ignore_errors=True)
            shutil.copytree("out/ck_ref", "out/ck")
            what = checkpoint_edit(i, Path("out/ck"))
            Path("out/r.json").unlink(missing_ok=True)
            argv = [*CK_ARGV, "--resume", "out/ck", "--json", "out/r.json"]
            result = run(argv)
            check("checkpoint", argv + [what], {2, ref_code}, ws, result)
            if result[0] != 2:  # accepted: then it must be the uninterrupted run's result
                assert _results("out/r.json") == ref, f"{what}: a silent wrong result"


def test_fuzz_resealed_checkpoints(ws):
    """EDITS_DEFAULT checkpoints edited and resealed (a value of a frontier, fingerprint,
    link or count array or of state.json changed, an array zeroed, cut or extended, a
    manifest field changed): --resume refuses each with one line (exit 2), or, for an edit
    that changes nothing the search reads, gives exactly the uninterrupted run's results;
    never another search result."""
    _resealed_checkpoints(ws, EDITS_DEFAULT)


@pytest.mark.thorough
def test_fuzz_resealed_checkpoints_all(ws):
    """The resealed-checkpoint category at full size (>= 200 cases)."""
    _resealed_checkpoints(ws, CONTAINED)
