"""Checkpoint and resume for the batched explorer (:mod:`.levels`): the saving side.

This module holds the format, the run configuration and the :class:`Checkpointer` that
saves; :mod:`.resume` loads, verifies and restores a saved run (``load``, ``Snapshot``,
``start``).

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
recompute a SHA-256): the content is validated too (:meth:`.resume.Snapshot._validate`): the level
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
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import daxcheck.properties as props_pkg
import daxcheck.spec as spec_pkg
from daxcheck.fileio import InputFileError, atomic_write
from daxcheck.userfile import LOADED

FORMAT = "daxcheck-checkpoint/1"
"""``format`` of MANIFEST.json and state.json."""
MANIFEST = "MANIFEST.json"
EVERY = 300.0
"""Default seconds between two checkpoints inside a level (``--checkpoint-every``)."""
GEN_FOLDER = re.compile(r"^g(\d{6})$")
"""A checkpoint generation's folder name (``gNNNNNN``)."""
MAX_FILE = 1 << 40
"""Largest file a checkpoint may hold (bytes)."""


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
        for p in sorted(root.rglob("*.py")):
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
        return [type(v).__name__] + [
            (f.name, _canon(getattr(v, f.name))) for f in dataclasses.fields(v)
        ]
    if callable(v):  # a hook or class: its name (user code is covered by "user files")
        return f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', type(v).__name__)}"
    return repr(v)


def run_config(model, props, depth, exact, symmetry) -> dict:
    """The configuration a resumed run must share with the checkpointed one (a JSON-able
    dict, in the order mismatches are reported): design, bounds, depth (levels),
    properties, exact, symmetry, the loaded user files' SHA-256 and a digest of the design,
    layout, actions and spec sources."""
    h = hashlib.sha256()
    for part in (model.design, getattr(model.L, "fields", model.L.width), tuple(model.actions)):
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
        raise CheckpointError(
            f"--checkpoint {p}: a folder that is neither empty nor a daxcheck checkpoint"
        )
    if not opts.force:
        raise CheckpointError(
            f"--checkpoint {p}: holds a checkpoint (continue it with "
            f"--resume {p}, or start over with --force)"
        )


# ---------------------------------------------------------------------------- saving
def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def visited_array(fs) -> np.ndarray:
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
            "visited": visited_array(ex.visited),
            "fired": ex.fired,
            "cur_links": (
                np.concatenate(link_pieces) if link_pieces else np.zeros(0, link_dtype)
            ).astype(link_dtype),
            "queue_words": _cat2([w for w, _ in queue], nw),
            "queue_fps": _cat2([f for _, f in queue], G),
            "nxt_words": _cat2([w for w, _ in nxt], nw),
            "nxt_fps": _cat2([f for _, f in nxt], G),
        }
        for i, lk in enumerate(ex.links):
            arrays[f"links_{i:03d}"] = lk
        if ex.index is not None:
            idx = ex.index
            arrays["stored"] = ex.stored[:, : ex.n_stored]
            arrays["index_fps"] = np.concatenate([idx.fps] + [r[0] for r in idx.runs])
            arrays["index_ids"] = np.concatenate([idx.ids] + [r[1] for r in idx.runs])
        sym = None
        if ex.sym is not None:
            sym = {
                "act": [[sorted(int(x) for x in c) for c in ck] for ck in ex.act_cand],
                "conj": [[sorted(int(x) for x in c) for c in ck] for ck in ex.conj_cand],
            }
        state = {
            "format": FORMAT,
            "config": self.config,
            "run": self.run,
            "position": {
                "level": int(level),
                "base": int(base),
                "done": int(done),
                "link_dtype": np.dtype(link_dtype).name,
                "links": len(ex.links),
            },
            "n_states": int(ex.n_states),
            "seconds": ex.seconds_before + (t - ex.t0),
            "found": {k: [int(d), int(i), str(int(fp))] for k, (d, i, fp) in ex.found.items()},
            "bits": list(ex.packing.bits),
            "symmetry": sym,
            "n_stored": int(getattr(ex, "n_stored", 0)),
        }
        self.write(
            arrays,
            state,
            {"level": int(level), "mid_level": bool(base), "states": int(ex.n_states)},
        )
        self.saved += 1
        self.last = time.perf_counter()
        self.cost = self.last - t

    def write(self, arrays: dict, state: dict, summary: dict) -> None:
        """Write one generation (``arrays`` as ``.npy``, ``state`` as ``state.json``) into
        a new ``gNNNNNN/`` folder, then commit it by replacing ``MANIFEST.json`` (sizes,
        SHA-256, ``summary``), then remove the older generations.  Raises CheckpointError
        (the previous checkpoint intact) when a file cannot be written."""
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
            manifest = {
                "format": FORMAT,
                "folder": gen.name,
                "files": files,
                "design": self.config["design"],
                **summary,
            }
            atomic_write(self.dir / MANIFEST, json.dumps(manifest, indent=1))  # the commit
        except (OSError, InputFileError) as e:
            shutil.rmtree(gen, ignore_errors=True)
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise CheckpointError(
                f"--checkpoint {self.dir}: cannot save a checkpoint "
                f"({why}); the previous one is intact"
            ) from None
        for n in gens:
            shutil.rmtree(self.dir / f"g{n:06d}", ignore_errors=True)

    def _gens(self) -> list[int]:
        if not self.dir.is_dir():
            return []
        return sorted(
            int(m.group(1))
            for m in (GEN_FOLDER.match(p.name) for p in self.dir.iterdir())
            if m and (self.dir / m.group(0)).is_dir()
        )


# ---------------------------------------------------------------------------- loading
