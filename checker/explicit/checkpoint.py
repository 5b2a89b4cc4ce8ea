"""Checkpoint and resume for the batched explorer (:mod:`.levels`).

``daxcheck check --checkpoint DIR`` saves, at the start of every BFS level and every
``--checkpoint-every`` seconds between two frontier chunks (and when ``--time-limit``
stops the run), everything :class:`.levels.BatchedExplorer` needs to continue and to
rebuild counterexamples: the visited set (64-bit fingerprints), the per-level links
(parent, action) of every state, the initial states, the rest of the frontier level being
expanded and the part of the next level built so far (bit-packed words and fingerprints),
the packing widths, per-action fired counts, the violations found so far (depth, index in
their level, fingerprint: the trace is rebuilt from the links), the symmetry candidates,
in exact mode the stored states, and the run's configuration (design, bounds, depth,
properties, ``--exact``/``--symmetry``, a digest of the spec sources and of the user
files loaded).  ``check --resume DIR`` refuses a different configuration and continues from
the saved position; the resumed run counts the same states and transitions and gives the
same verdicts, depths and counterexample traces as an uninterrupted one (the BFS order is
deterministic and the memo tables are only caches).

Layout of ``DIR`` (TLC keeps its checkpoint in a folder too): ``g000001/``, ``g000002/``...
one folder per checkpoint, each holding NumPy ``.npy`` arrays and ``state.json``, every file
written through :func:`daxcheck.fileio.atomic_write` (fsync'd); then ``MANIFEST.json`` (the
format, the folder, each file's size and SHA-256) replaces the previous manifest with one
``os.replace``, and only then are older folders removed.  A SIGKILL at any instant leaves
the previous complete checkpoint or the new one, never a torn one; a truncated or edited
file is detected by its SHA-256 on load.  The seal is not trusted alone (anyone can
recompute a SHA-256): the content is validated too (:meth:`Snapshot._validate`): the level
sizes add up to the state count, the visited set's size and the manifest's figures; links
point inside their previous level; the initial states are the model's; every frontier state
packs exactly, decodes to values inside the layout's domains, has its recorded fingerprints
and is in the visited set; and the run the links describe is re-executed with the model's
transitions (batched, no deduplication), so the visited set (exact: the stored states), the
frontier and the next level so far must be exactly the states the links lead to (measured:
4.4 s for the 1,314,710 states of a cow-single-iomap --depth 7 checkpoint mid level 6, which
the run took about 5 s to reach).  Every problem with a checkpoint is a one-line
:class:`CheckpointError` (the CLI exits 2), never a search.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import daxcheck.properties as props_pkg
import daxcheck.spec as spec_pkg
from daxcheck.fileio import InputFileError, atomic_write, parse_json, read_input
from daxcheck.spec.state import field_domain
from daxcheck.userfile import LOADED

from .fpset import FingerprintIndex, FingerprintSet
from .frontier import BLOCK, U64, Blocks, ExploreError, Repack, fingerprints
from .memory import long_lived_copy
from .packing import Packing

FORMAT = "daxcheck-checkpoint/1"
"""``format`` of MANIFEST.json and state.json."""
MANIFEST = "MANIFEST.json"
EVERY = 300.0
"""Default seconds between two checkpoints inside a level (``--checkpoint-every``)."""
_GEN = re.compile(r"^g(\d{6})$")
_MAX_FILE = 1 << 40


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used: missing, not a checkpoint, corrupt or
    truncated, or made by a different run configuration.  One line naming the folder."""


@dataclass(frozen=True)
class CheckpointOptions:
    """What the command line asked: ``path`` (the folder), ``resume`` (continue the run
    saved there; checkpoints keep going to the same folder), ``every`` (seconds between two
    checkpoints inside a level; level starts are always saved), ``force`` (``--checkpoint``
    may replace a checkpoint already in ``path``)."""

    path: str
    resume: bool = False
    every: float = EVERY
    force: bool = False


def _sources_digest() -> str:
    """SHA-256 over the sources of the spec and the properties (a checkpoint made with
    other transition code could not be continued soundly)."""
    h = hashlib.sha256()
    for pkg in (spec_pkg, props_pkg):
        root = Path(pkg.__file__).parent
        for p in sorted(root.glob("*.py")):
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _canon(v):
    """``v`` with sets sorted and dataclasses as (type, fields): a repr that does not
    depend on string hashing (PYTHONHASHSEED)."""
    if isinstance(v, (set, frozenset)):
        return sorted((_canon(x) for x in v), key=repr)
    if isinstance(v, (list, tuple)):
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        return sorted(((_canon(k), _canon(x)) for k, x in v.items()), key=repr)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [type(v).__name__] + [(f.name, _canon(getattr(v, f.name)))
                                     for f in dataclasses.fields(v)]
    if callable(v):    # a hook or class: its name (user code is covered by "user files")
        return f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', type(v).__name__)}"
    return repr(v)


def run_config(model, props, depth, exact, symmetry) -> dict:
    """The configuration a resumed run must share with the checkpointed one (a JSON-able
    dict, in the order mismatches are reported): design, bounds, depth (levels),
    properties, exact, symmetry, the loaded user files' SHA-256 and a digest of the design,
    layout, actions and spec sources."""
    h = hashlib.sha256()
    for part in (model.design, getattr(model.L, "fields", model.L.width),
                 tuple(model.actions)):
        h.update(repr(_canon(part)).encode())
    h.update(_sources_digest().encode())
    return {
        "design": model.design.name,
        "bounds": model.bounds.as_dict(),
        "depth": int(depth),
        "properties": [p.name for p in props],
        "exact": bool(exact),
        "symmetry": symmetry if isinstance(symmetry, bool) else sorted(symmetry),
        "user files": sorted(f"{r.path} {r.sha256}" for r in LOADED.values()),
        "model": h.hexdigest(),
    }


def prepare(opts: CheckpointOptions) -> None:
    """Check the folder before any work: for ``--checkpoint``, absent, empty, or (with
    ``force``) a checkpoint; for ``--resume``, a checkpoint.  Raises CheckpointError."""
    p = Path(opts.path)
    if opts.resume:
        if not (p / MANIFEST).is_file():
            raise CheckpointError(f"--resume {p}: no checkpoint there ({MANIFEST} missing)")
        return
    if p.exists() and not p.is_dir():
        raise CheckpointError(f"--checkpoint {p}: exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CheckpointError(f"--checkpoint {p}: cannot create the folder: {e.strerror}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise CheckpointError(f"--checkpoint {p}: the folder is not writable")
    if not any(p.iterdir()):
        return
    if not (p / MANIFEST).is_file():
        raise CheckpointError(f"--checkpoint {p}: a folder that is neither empty nor a "
                              f"daxcheck checkpoint")
    if not opts.force:
        raise CheckpointError(f"--checkpoint {p}: holds a checkpoint (continue it with "
                              f"--resume {p}, or start over with --force)")


# ---------------------------------------------------------------------------- saving
def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _visited(fs) -> np.ndarray:
    """Every fingerprint of a :class:`.fpset.FingerprintSet`, sorted."""
    parts = [fs.delta] + [b[:n] for b, n in zip(fs.buckets, fs.sizes)]
    out = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
    out.sort()
    return out


def _cat2(pieces, nrows, dtype=np.uint64) -> np.ndarray:
    pieces = [x for x in pieces if x.shape[1]]
    return np.concatenate(pieces, axis=1) if pieces else np.zeros((nrows, 0), dtype)


class Checkpointer:
    """Writes the checkpoints of one explorer run into ``opts.path`` (see the module
    docstring); a save that fails (ENOSPC, EACCES) removes what it wrote and raises
    CheckpointError, which ends the run.  ``config``: :func:`run_config`; ``run``: the explorer's Zobrist ``seed``,
    symmetry ``sets`` and the reason a declared symmetry was dropped (``broken``)."""

    def __init__(self, opts: CheckpointOptions, config: dict):
        self.dir = Path(opts.path)
        self.every = opts.every
        self.config = config
        self.run = {}
        self.last = time.perf_counter()
        self.cost = 0.0
        self.saved = 0

    def due(self, now: float) -> bool:
        """Whether a checkpoint inside a level is due: ``every`` seconds since the last one,
        and at least ten times the time the last one took (saving stays under ~10%)."""
        return now - self.last >= max(self.every, 10 * self.cost)

    def save(self, ex, level, queue, nxt, link_pieces, base, done, link_dtype) -> None:
        """Save explorer ``ex`` at a chunk boundary of ``level``: ``queue`` the frontier
        pieces not yet expanded, ``nxt`` the next level so far (a ``Blocks``),
        ``link_pieces`` this level's links so far, ``base`` frontier states expanded,
        ``done`` new states found in this level."""
        t = time.perf_counter()
        G, nw = ex.G, ex.packing.nw
        arrays = {
            "init_rows": ex.init_rows,
            "visited": _visited(ex.visited),
            "fired": ex.fired,
            "cur_links": (np.concatenate(link_pieces) if link_pieces
                          else np.zeros(0, link_dtype)).astype(link_dtype),
            "queue_words": _cat2([w for w, _ in queue], nw),
            "queue_fps": _cat2([f for _, f in queue], G),
            "nxt_words": _cat2([w for w, _ in nxt], nw),
            "nxt_fps": _cat2([f for _, f in nxt], G),
        }
        for i, lk in enumerate(ex.links):
            arrays[f"links_{i:03d}"] = lk
        if ex.index is not None:
            idx = ex.index
            arrays["stored"] = ex.stored[:, :ex.n_stored]
            arrays["index_fps"] = np.concatenate([idx.fps] + [r[0] for r in idx.runs])
            arrays["index_ids"] = np.concatenate([idx.ids] + [r[1] for r in idx.runs])
        sym = None
        if ex.sym is not None:
            sym = {"act": [[sorted(int(x) for x in c) for c in ck] for ck in ex.act_cand],
                   "conj": [[sorted(int(x) for x in c) for c in ck] for ck in ex.conj_cand]}
        state = {
            "format": FORMAT,
            "config": self.config,
            "run": self.run,
            "position": {"level": int(level), "base": int(base), "done": int(done),
                         "link_dtype": np.dtype(link_dtype).name, "links": len(ex.links)},
            "n_states": int(ex.n_states),
            "seconds": ex.seconds_before + (t - ex.t0),
            "found": {k: [int(d), int(i), str(int(fp))] for k, (d, i, fp) in ex.found.items()},
            "bits": list(ex.packing.bits),
            "symmetry": sym,
            "n_stored": int(getattr(ex, "n_stored", 0)),
        }
        gens = self._gens()
        gen = self.dir / f"g{(max(gens) if gens else 0) + 1:06d}"
        try:
            gen.mkdir(parents=True)
            files = {}
            for name, a in arrays.items():
                data = _npy(a)
                atomic_write(gen / f"{name}.npy", data)
                files[f"{name}.npy"] = [len(data), hashlib.sha256(data).hexdigest()]
            data = json.dumps(state, indent=1).encode()
            atomic_write(gen / "state.json", data)
            files["state.json"] = [len(data), hashlib.sha256(data).hexdigest()]
            manifest = {"format": FORMAT, "folder": gen.name, "files": files,
                        "design": self.config["design"], "level": int(level),
                        "mid_level": bool(base), "states": int(ex.n_states)}
            atomic_write(self.dir / MANIFEST, json.dumps(manifest, indent=1))   # the commit
        except (OSError, InputFileError) as e:
            shutil.rmtree(gen, ignore_errors=True)
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise CheckpointError(f"--checkpoint {self.dir}: cannot save a checkpoint "
                                  f"({why}); the previous one is intact") from None
        for n in gens:
            shutil.rmtree(self.dir / f"g{n:06d}", ignore_errors=True)
        self.saved += 1
        self.last = time.perf_counter()
        self.cost = self.last - t

    def _gens(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(int(m.group(1)) for m in (_GEN.match(p.name) for p in self.dir.iterdir())
                      if m and (self.dir / m.group(0)).is_dir())


# ---------------------------------------------------------------------------- loading
class Snapshot:
    """A checkpoint read back and verified: ``state`` (state.json) and ``arrays`` (name ->
    ndarray).  :meth:`restore` puts it into a fresh explorer."""

    def __init__(self, where, state, arrays, manifest=None):
        self.where, self.state, self.arrays = where, state, arrays
        self.manifest = manifest

    @property
    def run(self) -> dict:
        return self.state.get("run") or {}

    def _bad(self, what) -> CheckpointError:
        return CheckpointError(f"--resume {self.where}: inconsistent checkpoint ({what})")

    def _array(self, name, dtype=None, ndim=None, rows=None):
        a = self.arrays.get(name)
        if a is None:
            raise self._bad(f"{name}.npy missing")
        if dtype is not None and a.dtype != np.dtype(dtype):
            raise self._bad(f"{name}.npy has dtype {a.dtype}, expected {np.dtype(dtype)}")
        if ndim is not None and a.ndim != ndim:
            raise self._bad(f"{name}.npy has {a.ndim} dimensions, expected {ndim}")
        if rows is not None and a.shape[0] != rows:
            raise self._bad(f"{name}.npy has {a.shape[0]} rows, expected {rows}")
        return a

    def restore(self, ex):
        """Load the saved run into explorer ``ex`` (built with the same model, properties,
        seed and symmetry).  Returns ``(level, queue, nxt, link_pieces, base, done,
        link_dtype)``, the position :meth:`.levels.BatchedExplorer.run` continues from.
        Raises CheckpointError when the arrays do not fit together."""
        try:
            return self._restore(ex)
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise self._bad(f"{type(e).__name__}: {' '.join(str(e).split())[:200]}") from None

    def _restore(self, ex):
        st = self.state
        pos = st["position"]
        level, base, done = int(pos["level"]), int(pos["base"]), int(pos["done"])
        link_dtype = np.dtype(pos["link_dtype"])
        if link_dtype not in (np.dtype(np.uint32), np.dtype(np.int64)):
            raise self._bad(f"link dtype {link_dtype}")
        if not 0 <= level < ex.depth or pos["links"] != level + 1:
            raise self._bad(f"level {level} with {pos['links']} link arrays")
        packing = Packing(st["bits"])
        if packing.width != ex.width:
            raise self._bad(f"{packing.width} columns, the model has {ex.width}")
        ex.set_packing(packing)
        G, nw = ex.G, packing.nw
        ex.init_rows = self._array("init_rows", np.uint8, 2)
        if ex.init_rows.shape[1] != ex.width or ex.init_rows.shape[0] == 0:
            raise self._bad("init_rows.npy shape")
        ex.links = [self._array(f"links_{i:03d}", ndim=1) for i in range(level + 1)]
        if ex.links[0].shape[0] != ex.init_rows.shape[0]:
            raise self._bad("links_000.npy length")
        fired = self._array("fired", np.int64, 1)
        if fired.shape[0] != ex.nA:
            raise self._bad(f"{fired.shape[0]} fired counts, the model has {ex.nA} actions")
        ex.fired = fired.copy()
        ex.n_states = int(st["n_states"])
        ex.seconds_before = float(st["seconds"])
        visited = self._array("visited", np.uint64, 1)
        if not ex.exact:
            if visited.shape[0] != ex.n_states or (visited[1:] <= visited[:-1]).any():
                raise self._bad("visited.npy is not the sorted set of every state")
            ex.visited = FingerprintSet()
            ex.visited.add(visited)
        else:
            ex.stored = long_lived_copy(self._array("stored", np.uint64, 2, nw))
            ex.n_stored = int(st["n_stored"])
            if ex.stored.shape[1] != ex.n_stored:
                raise self._bad("stored.npy length")
            ex.index = FingerprintIndex()
            ids = self._array("index_ids", np.int64, 1)
            ex.index.add(self._array("index_fps", np.uint64, 1), ids)
            if ids.size and (ids.min() < 0 or ids.max() >= ex.n_stored):
                raise self._bad("index_ids.npy out of range")
        qw, qf = self._array("queue_words", np.uint64, 2, nw), self._array("queue_fps",
                                                                          np.uint64, 2, G)
        xw, xf = self._array("nxt_words", np.uint64, 2, nw), self._array("nxt_fps",
                                                                        np.uint64, 2, G)
        if qw.shape[1] != qf.shape[1] or xw.shape[1] != xf.shape[1] or \
                xf.shape[1] != (done if level + 1 < ex.depth else 0):
            raise self._bad("frontier arrays of different lengths")
        queue = [(qw, qf)] if qf.shape[1] else []
        nxt = Blocks(nw, G, max(ex.chunk, BLOCK))
        nxt.append(xw, xf)
        cur = self._array("cur_links", link_dtype, 1)
        if cur.shape[0] != done:
            raise self._bad("cur_links.npy length")
        link_pieces = [cur] if done else []
        sym = st.get("symmetry")
        if (sym is None) != (ex.sym is None):
            raise self._bad("symmetry candidates")
        if sym is not None:
            ex.act_cand = [[set(c) for c in ck] for ck in sym["act"]]
            ex.conj_cand = [[set(c) for c in ck] for ck in sym["conj"]]
        for name, (depth, idx, fp) in st["found"].items():
            if name not in ex.pending or not 0 <= depth <= level + 1:
                raise self._bad(f"violation of {name!r}")
        self._validate(ex, level, base, done, qw, qf, xw, xf, cur)
        # Violations found so far: rebuilt from the links like any counterexample (a trace
        # that does not reach the recorded state means edited links or fingerprints).
        ex.cur = link_pieces
        for name, (depth, idx, fp) in sorted(st["found"].items(), key=lambda x: x[1][:2]):
            try:
                ex.record({name: int(idx)}, int(depth), {int(idx): np.uint64(int(fp))}, 0)
            except ExploreError as e:
                raise self._bad(f"the counterexample of {name!r}: {e}") from None
        ex.cur = None
        return level, queue, nxt, link_pieces, base, done, link_dtype

    def _validate(self, ex, level, base, done, qw, qf, xw, xf, cur):
        """Check the content of the restored run, not only its seal: the level counts add
        up to the state count (and to the visited set's size, which the caller checked), the
        links point inside their previous level, the initial states are the model's, and
        every frontier state (the rest of this level and the next level so far) packs
        exactly, decodes to values inside the layout's domains, has the recorded
        fingerprints, and is in the visited set (or, exact, stored under its fingerprint
        with the same words).  Raises CheckpointError naming the first inconsistency."""
        sizes = [int(lk.shape[0]) for lk in ex.links]
        if sum(sizes) + int(done) != ex.n_states:
            raise self._bad(f"the levels hold {sum(sizes) + int(done):,} states, state.json "
                            f"says {ex.n_states:,}")
        if ex.exact and ex.n_stored != ex.n_states:
            raise self._bad("stored.npy does not hold every state")
        man = self.manifest or {}
        for key, want in (("level", level), ("states", ex.n_states), ("mid_level", bool(base)),
                          ("design", ex.model.design.name)):
            if key in man and man[key] != want:
                raise self._bad(f"{MANIFEST} says {key} {man[key]}, the checkpoint {want}")
        if not (math.isfinite(ex.seconds_before) and ex.seconds_before >= 0) \
                or (ex.fired < 0).any():
            raise self._bad("run statistics")
        for i in range(1, level + 1):
            lk = ex.links[i]
            if lk.size and (int(lk.min()) < 0 or int(lk.max()) >= sizes[i - 1] * ex.nA):
                raise self._bad(f"links_{i:03d}.npy points outside level {i - 1}")
        if cur.size and (int(cur.min()) < 0 or int(cur.max()) >= sizes[level] * ex.nA):
            raise self._bad("cur_links.npy points outside the frontier level")
        if not 0 <= base <= sizes[level] or qf.shape[1] != sizes[level] - base:
            raise self._bad(f"the frontier holds {qf.shape[1]:,} states, level {level} has "
                            f"{sizes[level]:,} of which {base:,} were expanded")
        for name, (depth, idx, _fp) in self.state["found"].items():
            n = sizes[depth] if depth <= level else int(done)
            if not 0 <= int(idx) < n:
                raise self._bad(f"violation of {name!r}")
        want = _initial_rows(ex)
        if ex.init_rows.shape != want.shape or (ex.init_rows != want).any():
            raise self._bad("init_rows.npy is not the model's initial states")
        allowed = _allowed_values(ex)
        init_w = ex.packing.pack_rows(ex.init_rows) if ex.packing.fits(ex.init_rows) else None
        if init_w is None:
            raise self._bad("init_rows.npy does not fit the packing")
        for what, words, fps in (("init_rows", init_w, fingerprints(ex.Zs, ex.init_rows)),
                                 ("queue_words", qw, qf), ("nxt_words", xw, xf)):
            for lo in range(0, words.shape[1], _VALIDATE_CHUNK):
                self._check_states(ex, what, words[:, lo:lo + _VALIDATE_CHUNK],
                                   fps[:, lo:lo + _VALIDATE_CHUNK], allowed)
        self._rederive(ex, level, base, init_w, qw, xw, cur)

    def _rederive(self, ex, level, base, init_w, qw, xw, cur):
        """Re-execute the run the links describe, level by level, with the model's
        transitions (batched, without deduplication: about the cost of expanding levels
        0..``level`` once): every link must name an action enabled in its parent; the
        states reached must be exactly the visited set (or, exact, the stored states in
        discovery order), the unexpanded rest of the frontier level and the next level so
        far.  Raises CheckpointError."""
        canon = []
        stored = []
        words, fps = init_w, fingerprints(ex.Zs, ex.init_rows)
        for i in range(1, level + 2):
            if ex.exact:
                stored.append(words)
            canon.append(_canonical(fps))
            links = ex.links[i] if i <= level else cur
            name = f"links_{i:03d}.npy" if i <= level else "cur_links.npy"
            if i == level + 1:
                if (words[:, base:] != qw).any():
                    raise self._bad("queue_words.npy is not the rest of the frontier level "
                                    "the links lead to")
            words, fps = self._successors(ex, words, fps, links, name)
        canon.append(_canonical(fps))
        if xw.shape[1] and (words != xw).any():
            raise self._bad("nxt_words.npy is not the next level the links lead to")
        if ex.exact:
            stored.append(words)
            if (np.concatenate(stored, axis=1) != ex.stored[:, :ex.n_stored]).any():
                raise self._bad("stored.npy is not the states the links lead to")
            return
        reached = np.sort(np.concatenate(canon))
        if reached.shape != (ex.n_states,) or (reached != _visited(ex.visited)).any():
            raise self._bad("visited.npy is not the set of states the links lead to")

    def _successors(self, ex, words, fps, links, name):
        """The states ``links`` (parent index * nA + action, BFS order) lead to from the
        level ``words`` whose fingerprints are ``fps`` (``(G, n)``): their ``(nw, m)``
        words and ``(G, m)`` fingerprints (computed from the parent's as the explorer does:
        its action's change, and the old values of the columns it writes without reading).
        CheckpointError for a link out of order or whose action is not enabled."""
        nA = ex.nA
        pk = ex.packing
        links = links.astype(np.int64)
        parents, acts = links // nA, links % nA
        if parents.size and (np.diff(parents) < 0).any():
            raise self._bad(f"{name} is not in breadth-first order")
        first = {i: mg[0] for mg in ex.model_groups for i in mg}
        out = np.empty((pk.nw, links.size), dtype=np.uint64)
        ofp = np.empty((ex.G, links.size), dtype=np.uint64)
        step = max(ex.chunk, 1)
        for lo in range(0, words.shape[1], step):
            hi = min(lo + step, words.shape[1])
            a, b = (int(x) for x in np.searchsorted(parents, [lo, hi]))
            if a == b:
                continue
            w, par, act = words[:, lo:hi], parents[a:b] - lo, acts[a:b]
            used = np.unique(act)
            ents = {}
            try:
                for i in {int(x) for x in used} | {first[int(x)] for x in used}:
                    reads = ex.infos[i].reads
                    if reads not in ents:
                        ents[reads] = ex.entries(ex.group(reads), w, ex.fill_actions)
            except Repack:
                raise self._bad("a state the links lead to does not fit the saved "
                                "packing") from None
            for i in used:
                i = int(i)
                mine = np.flatnonzero(act == i)
                sel = par[mine]
                for j in {i, first[i]}:
                    reads = ex.infos[j].reads
                    if not ex.groups[reads].en[j][ents[reads][sel]].all():
                        raise self._bad(f"{name}: a step is not enabled in its parent")
                info = ex.infos[i]
                f = fps[:, lo + sel] ^ ex.groups[info.reads].dz[i][:, ents[info.reads][sel]]
                for c in info.wnr:
                    v = ((w[pk.word[c]][sel] >> U64(pk.shift[c])) & U64(int(pk.cap[c])))
                    f ^= ex.Zs[:, c, :][:, v.astype(np.intp)]
                ofp[:, a + mine] = f
            out[:, a:b] = ex.build(w, par, act, ents)
        return out, ofp

    def _check_states(self, ex, what, words, fps, allowed):
        """One chunk of frontier states (``(nw, n)`` words, ``(G, n)`` fingerprints) of
        array ``what``: see :meth:`_validate`."""
        rows = ex.packing.unpack_rows(words)
        if (ex.packing.pack_rows(rows) != words).any():
            raise self._bad(f"{what}.npy has bits outside every field")
        bad = ~allowed[np.arange(ex.width)[None, :], rows]
        if bad.any():
            i, c = (int(x[0]) for x in np.nonzero(bad))
            name = _field_name(ex, c)
            raise self._bad(f"{what}.npy: a state holds {int(rows[i, c])} in {name}, outside "
                            f"its domain")
        if (fingerprints(ex.Zs, rows) != fps).any():
            raise self._bad(f"{what}.npy: a state's fingerprint differs from the recorded one")
        canon = fps[0] if ex.G == 1 else fps.min(axis=0)
        if not ex.exact:
            if not ex.visited.contains(np.sort(canon)).all():     # takes sorted queries
                raise self._bad(f"{what}.npy: a state is not in the visited set")
            return
        ids = ex.index.find(canon)
        if (ids < 0).any() or not ex.same(words, ex.stored[:, ids]).all():
            raise self._bad(f"{what}.npy: a state is not the stored state of its fingerprint")


def _canonical(fps: np.ndarray) -> np.ndarray:
    """The fingerprint a state is stored under: ``fps[0]`` without symmetry, else the
    smallest of its images' (``fps``: ``(G, n)``)."""
    return fps[0] if fps.shape[0] == 1 else fps.min(axis=0)


_VALIDATE_CHUNK = 1 << 16
"""States decoded at once when a resumed checkpoint's frontier is validated."""


def _initial_rows(ex) -> np.ndarray:
    """The model's initial states as :meth:`.levels.BatchedExplorer.initial` keeps them
    (distinct, one per symmetry orbit, in the model's order): ``(n, width)`` uint8."""
    init = []
    for s in ex.model.init_states():
        if s not in init:
            init.append(s)
    rows = np.frombuffer(b"".join(init), dtype=np.uint8).reshape(len(init), ex.width)
    canon = fingerprints(ex.Zs, rows).min(axis=0)
    return rows[np.sort(np.unique(canon, return_index=True)[1])]


def _allowed_values(ex) -> np.ndarray:
    """``(width, 256)`` bool: the values each column may hold, from the layout's declared
    domains (``spec.state.field_domain``); a column without a declaration (a user's ghost
    field, a toy layout) may hold any value its packed width holds."""
    out = np.zeros((ex.width, 256), dtype=bool)
    for c in range(ex.width):
        try:
            dom = list(field_domain(ex.L, c))
        except Exception:     # no declaration for this column
            dom = None
        if dom is None or any(not 0 <= v <= 255 for v in dom):
            out[c, :int(ex.packing.cap[c]) + 1] = True
        else:
            out[c, dom] = True
    return out


def _field_name(ex, c) -> str:
    """The field holding column ``c`` (``column c`` for a layout without names)."""
    try:
        return ex.L.label(c)
    except Exception:
        return f"column {c}"


def load(opts: CheckpointOptions, config: dict) -> Snapshot:
    """Read and verify the checkpoint in ``opts.path`` (manifest, every file's size and
    SHA-256, the configuration against ``config``).  Raises CheckpointError (one line)."""
    where = Path(opts.path)
    try:
        man = parse_json(read_input(where / MANIFEST, "checkpoint manifest"),
                         str(where / MANIFEST))
    except InputFileError as e:
        raise CheckpointError(f"--resume {where}: {e}") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise CheckpointError(f"--resume {where}: {MANIFEST} is not a {FORMAT} manifest")
    folder, files = man.get("folder"), man.get("files")
    if not isinstance(folder, str) or not _GEN.match(folder) or not isinstance(files, dict) \
            or "state.json" not in files:
        raise CheckpointError(f"--resume {where}: {MANIFEST} is malformed")
    arrays, state = {}, None
    for name, meta in files.items():
        if not (isinstance(name, str) and re.fullmatch(r"[a-z_0-9]+\.(npy|json)", name)
                and isinstance(meta, list) and len(meta) == 2):
            raise CheckpointError(f"--resume {where}: {MANIFEST} is malformed")
        path = where / folder / name
        try:
            data = read_input(path, "checkpoint file", _MAX_FILE)
        except InputFileError as e:
            raise CheckpointError(f"--resume {where}: {e}") from None
        if len(data) != meta[0] or hashlib.sha256(data).hexdigest() != meta[1]:
            raise CheckpointError(f"--resume {where}: {folder}/{name} is corrupt or truncated "
                                  f"(size or SHA-256 differs from {MANIFEST})")
        try:
            if name == "state.json":
                state = parse_json(data, str(path))
            else:
                arrays[name[:-4]] = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:   # numpy's header parser raises tokenize/syntax errors too
            raise CheckpointError(f"--resume {where}: {folder}/{name}: unreadable "
                                  f"({' '.join(str(e).split())[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT \
            or not isinstance(state.get("config"), dict):
        raise CheckpointError(f"--resume {where}: state.json is not a {FORMAT} state")
    saved = state["config"]
    for key, want in config.items():
        got = saved.get(key)
        if got != want:
            if key in ("model", "user files"):
                what = ("the spec, design or actions differ from those the checkpoint was "
                        "made with" if key == "model" else
                        "the user files loaded differ from those of the checkpointed run")
                raise CheckpointError(f"--resume {where}: {what}")
            raise CheckpointError(f"--resume {where}: the checkpoint was made with {key} "
                                  f"{_show(got)}, this run has {_show(want)}")
    return Snapshot(where, state, arrays, man)


def _show(v) -> str:
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items())
    if isinstance(v, list):
        return ",".join(str(x) for x in v) or "(none)"
    return str(v)


def start(opts: CheckpointOptions, model, props, depth, exact, symmetry, seed, sets, broken):
    """Set up checkpointing of one :func:`.levels.explore_batched` run: check the folder
    (:func:`prepare`), and for ``--resume`` load and verify the saved run, whose Zobrist
    ``seed``, symmetry ``sets`` and ``broken`` reason replace the given ones.  Returns
    ``(Checkpointer, Snapshot or None, seed, sets, broken)``; raises CheckpointError."""
    prepare(opts)
    depth = model.bounds.depth if depth is None else depth
    config = run_config(model, props, depth, exact, symmetry)
    snap = None
    if opts.resume:
        snap = load(opts, config)
        run = snap.run
        if not isinstance(run.get("seed"), int) or not (
                run.get("sets") is None or isinstance(run["sets"], list)) or not (
                run.get("broken") is None or isinstance(run["broken"], str)):
            raise snap._bad("run record")
        seed, broken = run["seed"], run.get("broken")
        sets = None if run.get("sets") is None else tuple(run["sets"])
    return Checkpointer(opts, config), snap, seed, sets, broken
