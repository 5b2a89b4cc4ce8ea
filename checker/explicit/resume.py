"""Resuming a checkpointed run (``check --resume DIR``): load, verify, restore.

:func:`load` reads the newest complete generation named by ``MANIFEST.json`` (sizes and
SHA-256 checked), :class:`Snapshot` validates its content against the model (see
:mod:`.checkpoint` for what is checked and why) and restores it into a fresh
:class:`~.levels.BatchedExplorer`; :func:`start` sets up checkpointing of one run (a
:class:`~.checkpoint.Checkpointer`, and the Snapshot to continue from with ``--resume``).
Every problem is a one-line :class:`~.checkpoint.CheckpointError`.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from pathlib import Path

import numpy as np

from daxcheck.fileio import InputFileError, parse_json, read_input
from daxcheck.spec.state import field_domain

from . import checkpoint
from .checkpoint import (
    FORMAT,
    GEN_FOLDER,
    MANIFEST,
    MAX_FILE,
    CheckpointError,
    CheckpointOptions,
    prepare,
    run_config,
    visited_array,
)
from .fpset import FingerprintIndex, FingerprintSet
from .frontier import BLOCK, U64, Blocks, ExploreError, Repack, fingerprints
from .memory import long_lived_copy
from .packing import Packing


class Snapshot:
    """A checkpoint read back and verified: ``state`` (state.json) and ``arrays`` (name ->
    ndarray).  :meth:`restore` puts it into a fresh explorer."""

    def __init__(self, where, state, arrays, manifest=None):
        self.where, self.state, self.arrays = where, state, arrays
        self.manifest = manifest

    @property
    def run(self) -> dict:
        return self.state.get("run") or {}

    def bad(self, what) -> CheckpointError:
        """The :class:`CheckpointError` saying the checkpoint is inconsistent in ``what``."""
        return CheckpointError(f"--resume {self.where}: inconsistent checkpoint ({what})")

    def _array(self, name, dtype=None, ndim=None, rows=None):
        a = self.arrays.get(name)
        if a is None:
            raise self.bad(f"{name}.npy missing")
        if dtype is not None and a.dtype != np.dtype(dtype):
            raise self.bad(f"{name}.npy has dtype {a.dtype}, expected {np.dtype(dtype)}")
        if ndim is not None and a.ndim != ndim:
            raise self.bad(f"{name}.npy has {a.ndim} dimensions, expected {ndim}")
        if rows is not None and a.shape[0] != rows:
            raise self.bad(f"{name}.npy has {a.shape[0]} rows, expected {rows}")
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
            raise self.bad(f"{type(e).__name__}: {' '.join(str(e).split())[:200]}") from None

    def _restore(self, ex):
        st = self.state
        pos = st["position"]
        level, base, done = int(pos["level"]), int(pos["base"]), int(pos["done"])
        link_dtype = np.dtype(pos["link_dtype"])
        if link_dtype not in (np.dtype(np.uint32), np.dtype(np.int64)):
            raise self.bad(f"link dtype {link_dtype}")
        if not 0 <= level < ex.depth or pos["links"] != level + 1:
            raise self.bad(f"level {level} with {pos['links']} link arrays")
        packing = Packing(st["bits"])
        if packing.width != ex.width:
            raise self.bad(f"{packing.width} columns, the model has {ex.width}")
        ex.set_packing(packing)
        G, nw = ex.G, packing.nw
        ex.init_rows = self._array("init_rows", np.uint8, 2)
        if ex.init_rows.shape[1] != ex.width or ex.init_rows.shape[0] == 0:
            raise self.bad("init_rows.npy shape")
        ex.links = [self._array(f"links_{i:03d}", ndim=1) for i in range(level + 1)]
        if ex.links[0].shape[0] != ex.init_rows.shape[0]:
            raise self.bad("links_000.npy length")
        fired = self._array("fired", np.int64, 1)
        if fired.shape[0] != ex.nA:
            raise self.bad(f"{fired.shape[0]} fired counts, the model has {ex.nA} actions")
        ex.fired = fired.copy()
        ex.n_states = int(st["n_states"])
        ex.seconds_before = float(st["seconds"])
        self._restore_visited(ex, nw)
        qw, qf = (
            self._array("queue_words", np.uint64, 2, nw),
            self._array("queue_fps", np.uint64, 2, G),
        )
        xw, xf = self._array("nxt_words", np.uint64, 2, nw), self._array("nxt_fps", np.uint64, 2, G)
        if (
            qw.shape[1] != qf.shape[1]
            or xw.shape[1] != xf.shape[1]
            or xf.shape[1] != (done if level + 1 < ex.depth else 0)
        ):
            raise self.bad("frontier arrays of different lengths")
        queue = [(qw, qf)] if qf.shape[1] else []
        nxt = Blocks(nw, G, max(ex.chunk, BLOCK))
        nxt.append(xw, xf)
        cur = self._array("cur_links", link_dtype, 1)
        if cur.shape[0] != done:
            raise self.bad("cur_links.npy length")
        link_pieces = [cur] if done else []
        sym = st.get("symmetry")
        if (sym is None) != (ex.sym is None):
            raise self.bad("symmetry candidates")
        if sym is not None:
            ex.act_cand = [[set(c) for c in ck] for ck in sym["act"]]
            ex.conj_cand = [[set(c) for c in ck] for ck in sym["conj"]]
        for name, (depth, _idx, _fp) in st["found"].items():
            if name not in ex.pending or not 0 <= depth <= level + 1:
                raise self.bad(f"violation of {name!r}")
        self._validate(ex, level, base, done, qw, qf, xw, xf, cur)
        self._restore_found(ex, link_pieces)
        return level, queue, nxt, link_pieces, base, done, link_dtype

    def _restore_visited(self, ex, nw):
        """The visited set into ``ex`` (sorted fingerprints; exact mode: the stored states'
        words and the fingerprint -> id index)."""
        st = self.state
        visited = self._array("visited", np.uint64, 1)
        if not ex.exact:
            if visited.shape[0] != ex.n_states or (visited[1:] <= visited[:-1]).any():
                raise self.bad("visited.npy is not the sorted set of every state")
            ex.visited = FingerprintSet()
            ex.visited.add(visited)
            return
        ex.stored = long_lived_copy(self._array("stored", np.uint64, 2, nw))
        ex.n_stored = int(st["n_stored"])
        if ex.stored.shape[1] != ex.n_stored:
            raise self.bad("stored.npy length")
        ex.index = FingerprintIndex()
        ids = self._array("index_ids", np.int64, 1)
        ex.index.add(self._array("index_fps", np.uint64, 1), ids)
        if ids.size and (ids.min() < 0 or ids.max() >= ex.n_stored):
            raise self.bad("index_ids.npy out of range")

    def _restore_found(self, ex, link_pieces):
        """Violations found so far: rebuilt from the links like any counterexample (a
        trace that does not reach the recorded state means edited links or
        fingerprints)."""
        ex.cur = link_pieces
        for name, (depth, idx, fp) in sorted(self.state["found"].items(), key=lambda x: x[1][:2]):
            try:
                ex.record({name: int(idx)}, int(depth), {int(idx): np.uint64(int(fp))}, 0)
            except ExploreError as e:
                raise self.bad(f"the counterexample of {name!r}: {e}") from None
        ex.cur = None

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
            raise self.bad(
                f"the levels hold {sum(sizes) + int(done):,} states, state.json "
                f"says {ex.n_states:,}"
            )
        if ex.exact and ex.n_stored != ex.n_states:
            raise self.bad("stored.npy does not hold every state")
        man = self.manifest or {}
        for key, want in (
            ("level", level),
            ("states", ex.n_states),
            ("mid_level", bool(base)),
            ("design", ex.model.design.name),
        ):
            if key in man and man[key] != want:
                raise self.bad(f"{MANIFEST} says {key} {man[key]}, the checkpoint {want}")
        if (
            not (math.isfinite(ex.seconds_before) and ex.seconds_before >= 0)
            or (ex.fired < 0).any()
        ):
            raise self.bad("run statistics")
        for i in range(1, level + 1):
            lk = ex.links[i]
            if lk.size and (int(lk.min()) < 0 or int(lk.max()) >= sizes[i - 1] * ex.nA):
                raise self.bad(f"links_{i:03d}.npy points outside level {i - 1}")
        if cur.size and (int(cur.min()) < 0 or int(cur.max()) >= sizes[level] * ex.nA):
            raise self.bad("cur_links.npy points outside the frontier level")
        if not 0 <= base <= sizes[level] or qf.shape[1] != sizes[level] - base:
            raise self.bad(
                f"the frontier holds {qf.shape[1]:,} states, level {level} has "
                f"{sizes[level]:,} of which {base:,} were expanded"
            )
        for name, (depth, idx, _fp) in self.state["found"].items():
            n = sizes[depth] if depth <= level else int(done)
            if not 0 <= int(idx) < n:
                raise self.bad(f"violation of {name!r}")
        want = _initial_rows(ex)
        if ex.init_rows.shape != want.shape or (ex.init_rows != want).any():
            raise self.bad("init_rows.npy is not the model's initial states")
        allowed = _allowed_values(ex)
        init_w = ex.packing.pack_rows(ex.init_rows) if ex.packing.fits(ex.init_rows) else None
        if init_w is None:
            raise self.bad("init_rows.npy does not fit the packing")
        for what, words, fps in (
            ("init_rows", init_w, fingerprints(ex.Zs, ex.init_rows)),
            ("queue_words", qw, qf),
            ("nxt_words", xw, xf),
        ):
            for lo in range(0, words.shape[1], _VALIDATE_CHUNK):
                self._check_states(
                    ex,
                    what,
                    words[:, lo : lo + _VALIDATE_CHUNK],
                    fps[:, lo : lo + _VALIDATE_CHUNK],
                    allowed,
                )
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
            if i == level + 1 and (words[:, base:] != qw).any():
                raise self.bad(
                    "queue_words.npy is not the rest of the frontier level the links lead to"
                )
            words, fps = self._successors(ex, words, fps, links, name)
        canon.append(_canonical(fps))
        if xw.shape[1] and (words != xw).any():
            raise self.bad("nxt_words.npy is not the next level the links lead to")
        if ex.exact:
            stored.append(words)
            if (np.concatenate(stored, axis=1) != ex.stored[:, : ex.n_stored]).any():
                raise self.bad("stored.npy is not the states the links lead to")
            return
        reached = np.sort(np.concatenate(canon))
        if reached.shape != (ex.n_states,) or (reached != visited_array(ex.visited)).any():
            raise self.bad("visited.npy is not the set of states the links lead to")

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
            raise self.bad(f"{name} is not in breadth-first order")
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
                raise self.bad("a state the links lead to does not fit the saved packing") from None
            for i in used:
                i = int(i)
                mine = np.flatnonzero(act == i)
                sel = par[mine]
                for j in {i, first[i]}:
                    reads = ex.infos[j].reads
                    if not ex.groups[reads].en[j][ents[reads][sel]].all():
                        raise self.bad(f"{name}: a step is not enabled in its parent")
                info = ex.infos[i]
                f = fps[:, lo + sel] ^ ex.groups[info.reads].dz[i][:, ents[info.reads][sel]]
                for c in info.wnr:
                    v = (w[pk.word[c]][sel] >> U64(pk.shift[c])) & U64(int(pk.cap[c]))
                    f ^= ex.Zs[:, c, :][:, v.astype(np.intp)]
                ofp[:, a + mine] = f
            out[:, a:b] = ex.build(w, par, act, ents)
        return out, ofp

    def _check_states(self, ex, what, words, fps, allowed):
        """One chunk of frontier states (``(nw, n)`` words, ``(G, n)`` fingerprints) of
        array ``what``: see :meth:`_validate`."""
        rows = ex.packing.unpack_rows(words)
        if (ex.packing.pack_rows(rows) != words).any():
            raise self.bad(f"{what}.npy has bits outside every field")
        bad = ~allowed[np.arange(ex.width)[None, :], rows]
        if bad.any():
            i, c = (int(x[0]) for x in np.nonzero(bad))
            name = _field_name(ex, c)
            raise self.bad(
                f"{what}.npy: a state holds {int(rows[i, c])} in {name}, outside its domain"
            )
        if (fingerprints(ex.Zs, rows) != fps).any():
            raise self.bad(f"{what}.npy: a state's fingerprint differs from the recorded one")
        canon = fps[0] if ex.G == 1 else fps.min(axis=0)
        if not ex.exact:
            if not ex.visited.contains(np.sort(canon)).all():  # takes sorted queries
                raise self.bad(f"{what}.npy: a state is not in the visited set")
            return
        ids = ex.index.find(canon)
        if (ids < 0).any() or not ex.same(words, ex.stored[:, ids]).all():
            raise self.bad(f"{what}.npy: a state is not the stored state of its fingerprint")


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
        except Exception:  # no declaration for this column
            dom = None
        if dom is None or any(not 0 <= v <= 255 for v in dom):
            out[c, : int(ex.packing.cap[c]) + 1] = True
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
        man = parse_json(read_input(where / MANIFEST, "checkpoint manifest"), str(where / MANIFEST))
    except InputFileError as e:
        raise CheckpointError(f"--resume {where}: {e}") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise CheckpointError(f"--resume {where}: {MANIFEST} is not a {FORMAT} manifest")
    folder, files = man.get("folder"), man.get("files")
    if (
        not isinstance(folder, str)
        or not GEN_FOLDER.match(folder)
        or not isinstance(files, dict)
        or "state.json" not in files
    ):
        raise CheckpointError(f"--resume {where}: {MANIFEST} is malformed")
    arrays, state = _read_files(where, folder, files)
    if (
        not isinstance(state, dict)
        or state.get("format") != FORMAT
        or not isinstance(state.get("config"), dict)
    ):
        raise CheckpointError(f"--resume {where}: state.json is not a {FORMAT} state")
    _check_config(where, state["config"], config)
    return Snapshot(where, state, arrays, man)


def _read_files(where: Path, folder: str, files: dict) -> tuple[dict, object]:
    """Every file the manifest lists (``files``: ``{name: [size, sha256]}``) read from
    ``where/folder`` and checked against its size and SHA-256: ``({array name: ndarray},
    parsed state.json)``.  Raises CheckpointError (one line)."""
    arrays, state = {}, None
    for name, meta in files.items():
        if not (
            isinstance(name, str)
            and re.fullmatch(r"[a-z_0-9]+\.(npy|json)", name)
            and isinstance(meta, list)
            and len(meta) == 2
        ):
            raise CheckpointError(f"--resume {where}: {MANIFEST} is malformed")
        path = where / folder / name
        try:
            data = read_input(path, "checkpoint file", MAX_FILE)
        except InputFileError as e:
            raise CheckpointError(f"--resume {where}: {e}") from None
        if len(data) != meta[0] or hashlib.sha256(data).hexdigest() != meta[1]:
            raise CheckpointError(
                f"--resume {where}: {folder}/{name} is corrupt or truncated "
                f"(size or SHA-256 differs from {MANIFEST})"
            )
        try:
            if name == "state.json":
                state = parse_json(data, str(path))
            else:
                arrays[name[:-4]] = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:  # numpy's header parser raises tokenize/syntax errors too
            raise CheckpointError(
                f"--resume {where}: {folder}/{name}: unreadable ({' '.join(str(e).split())[:200]})"
            ) from None
    return arrays, state


def _check_config(where: Path, saved: dict, config: dict) -> None:
    """The checkpointed run's configuration (``saved``) against this run's (``config``);
    CheckpointError naming the first difference."""
    for key, want in config.items():
        got = saved.get(key)
        if got != want:
            if key in ("model", "user files"):
                what = (
                    "the spec, design or actions differ from those the checkpoint was made with"
                    if key == "model"
                    else "the user files loaded differ from those of the checkpointed run"
                )
                raise CheckpointError(f"--resume {where}: {what}")
            raise CheckpointError(
                f"--resume {where}: the checkpoint was made with {key} "
                f"{_show(got)}, this run has {_show(want)}"
            )


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
        if (
            not isinstance(run.get("seed"), int)
            or not (run.get("sets") is None or isinstance(run["sets"], list))
            or not (run.get("broken") is None or isinstance(run["broken"], str))
        ):
            raise snap.bad("run record")
        seed, broken = run["seed"], run.get("broken")
        sets = None if run.get("sets") is None else tuple(run["sets"])
    # Looked up on the module: a test may replace the saver there.
    return checkpoint.Checkpointer(opts, config), snap, seed, sets, broken
