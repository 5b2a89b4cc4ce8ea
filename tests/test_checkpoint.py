"""Checkpoint/resume of the batched explorer (checker/explicit/checkpoint.py): a run killed
with SIGKILL and resumed gives the uninterrupted run's states, verdicts, depths and
counterexample traces; a corrupt, truncated or mismatched checkpoint is one line, exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import dax_here

from daxcheck.checker.explicit import Budget
from daxcheck.checker.explicit.checkpoint import MANIFEST, Checkpointer, CheckpointOptions
from daxcheck.checker.explicit.levels import explore_batched
from daxcheck.checker.runner import make_model, pick_properties
from daxcheck.spec.designs import DESIGNS

SMALL = "userspace-flush"


def _results(path):
    """The --json results without timings and trace paths."""
    doc = json.loads(Path(path).read_text())
    return [{k: v for k, v in r.items() if k not in ("seconds", "trace")} for r in doc["results"]]


def _traces(folder):
    """Counterexample files of a folder: name -> ITF states."""
    return {p.name: json.loads(p.read_text())["states"] for p in sorted(Path(folder).iterdir())}


def _manifest(d):
    try:
        return json.loads((Path(d) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def test_sigkill_midway_then_resume_matches_uninterrupted(tmp_path):
    """The acceptance test of issue 12: SIGKILL after a checkpoint inside a level exists,
    then --resume: same state count, verdicts, depths and traces as an uninterrupted run."""
    ck = tmp_path / "ck"
    args = ["check", "--design", "cow-single-iomap", "--depth", "6", "--quiet"]
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daxcheck",
            *args,
            "--checkpoint",
            str(ck),
            "--checkpoint-every",
            "0.05",
            "--no-write",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline:
        m = _manifest(ck)
        if m and m["mid_level"] and m["level"] >= 3:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    m = _manifest(ck)
    assert m["mid_level"] and m["states"] < 905_263
    # Besides the manifest and its checkpoint, at most one the kill interrupted (a newer
    # one being written, or the older one being removed; the next save removes it).
    # Checked before --resume, which goes on saving into the folder.
    names = sorted(x.name for x in ck.iterdir())
    assert names[0] == MANIFEST and m["folder"] in names and len(names) <= 3
    code, out, err = dax_here(
        *args, "--resume", str(ck), "--json", str(tmp_path / "r.json"), "--out", str(tmp_path / "r")
    )
    assert code == 12, err
    code, out, err = dax_here(
        *args, "--json", str(tmp_path / "u.json"), "--out", str(tmp_path / "u")
    )
    assert code == 12, err
    resumed, whole = _results(tmp_path / "r.json"), _results(tmp_path / "u.json")
    assert resumed == whole
    assert resumed[0]["states"] == 905_263
    assert _traces(tmp_path / "r") == _traces(tmp_path / "u") != {}


class _Killed(Exception):
    pass


class _DiesAfter(Checkpointer):
    """A checkpointer due at every chunk that 'dies' right after its n-th save."""

    def __init__(self, opts, config, n):
        super().__init__(opts, config)
        self.n = n

    def due(self, now):
        return True

    def save(self, *a):
        super().save(*a)
        if self.saved == self.n:
            raise _Killed()


def _strip(r):
    return (
        {
            n: (
                v.status,
                v.depth,
                v.complete,
                v.items,
                None if v.trace is None else [(a, bytes(s)) for a, s in v.trace],
            )
            for n, v in r.verdicts.items()
        },
        r.stats.states,
        r.stats.transitions,
        r.stats.fired,
        r.stats.depth,
        r.never_fired,
    )


@pytest.mark.parametrize(
    "design,options,n,where",
    [
        ("cow-srcmap", {}, 8, (3, True)),
        ("cow-single-iomap", {}, 8, (3, True)),
        ("cow-single-iomap", {}, 7, (3, False)),
        ("reflink-single-owner", {}, 6, (2, True)),
        ("reflink-single-owner", {"exact": True}, 8, (3, True)),
        ("reflink-single-owner", {"symmetry": True}, 8, (3, True)),
    ],
)
def test_resume_from_any_chunk_matches(tmp_path, monkeypatch, design, options, n, where):
    """Deterministic: chunks of 1024 states, a checkpoint after every chunk, the run
    stopped right after the n-th (inside level ``where[0]`` or at its start), resumed:
    identical result (violations found before and after the checkpoint included)."""
    import daxcheck.checker.explicit.checkpoint as ckmod
    import daxcheck.checker.explicit.levels as levels

    monkeypatch.setattr(levels, "CHUNK", 1024)
    m = make_model(DESIGNS[design], {"depth": 4})
    props = pick_properties([])
    whole = explore_batched(m, props, **options)
    opts = CheckpointOptions(str(tmp_path / "ck"), every=0.0)
    real = ckmod.Checkpointer
    monkeypatch.setattr(ckmod, "Checkpointer", lambda o, c: _DiesAfter(o, c, n))
    with pytest.raises(_Killed):
        explore_batched(m, props, checkpoint=opts, **options)
    man = _manifest(opts.path)
    assert (man["level"], man["mid_level"]) == where
    monkeypatch.setattr(ckmod, "Checkpointer", real)
    resumed = explore_batched(
        m, props, checkpoint=CheckpointOptions(opts.path, resume=True), **options
    )
    assert _strip(resumed) == _strip(whole)


def test_resume_validation_with_a_bucketed_visited_set(tmp_path, monkeypatch):
    """A visited set large enough to be split in buckets (forced small here; over 1M
    fingerprints in a real run) answers membership for sorted queries only: a real
    mid-level checkpoint must still resume (it was refused as "not in the visited set")."""
    import daxcheck.checker.explicit.checkpoint as ckmod
    import daxcheck.checker.explicit.fpset as fpset
    import daxcheck.checker.explicit.levels as levels

    monkeypatch.setattr(levels, "CHUNK", 256)
    monkeypatch.setattr(fpset, "BUCKET_TARGET", 64)
    m = make_model(DESIGNS["cow-single-iomap"], {"depth": 5})
    props = pick_properties([])
    whole = explore_batched(m, props)
    opts = CheckpointOptions(str(tmp_path / "ck"), every=0.0)
    real = ckmod.Checkpointer
    monkeypatch.setattr(ckmod, "Checkpointer", lambda o, c: _DiesAfter(o, c, 28))
    with pytest.raises(_Killed):
        explore_batched(m, props, checkpoint=opts)
    assert _manifest(opts.path)["states"] > 1 << 16  # folded into buckets on load
    monkeypatch.setattr(ckmod, "Checkpointer", real)
    resumed = explore_batched(m, props, checkpoint=CheckpointOptions(opts.path, resume=True))
    assert _strip(resumed) == _strip(whole)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A checkpoint of the small design (a time limit never reached: level starts only)."""
    d = tmp_path_factory.mktemp("saved") / "ck"
    code, _, err = dax_here(
        "check", "--design", SMALL, "--checkpoint", str(d), "--no-write", "--quiet"
    )
    assert code == 12, err
    return d


def _copy(saved, tmp_path):
    import shutil

    dst = tmp_path / "ck"
    shutil.copytree(saved, dst)
    return dst


def _files(ck):
    m = _manifest(ck)
    return ck / m["folder"], m


def _one_line(code, err, *words):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def test_resume_of_the_saved_run_works(saved, tmp_path):
    ck = _copy(saved, tmp_path)
    code, _, err = dax_here(
        "check", "--design", SMALL, "--resume", str(ck), "--no-write", "--quiet"
    )
    assert code == 12, err


@pytest.mark.parametrize(
    "extra,word",
    [
        (["--depth", "4"], "depth"),
        (["--property", "no_stale_data"], "properties"),
        (["--exact"], "exact"),
        (["--phys", "3"], "bounds"),
    ],
)
def test_mismatched_configuration_refused(saved, tmp_path, extra, word):
    ck = _copy(saved, tmp_path)
    code, _, err = dax_here("check", "--design", SMALL, "--resume", str(ck), "--no-write", *extra)
    _one_line(code, err, "--resume", word)


def test_other_design_refused(saved, tmp_path):
    ck = _copy(saved, tmp_path)
    code, _, err = dax_here("check", "--design", "map-sync", "--resume", str(ck), "--no-write")
    _one_line(code, err, f"design {SMALL}, this run has map-sync")


def test_truncated_or_corrupt_files_refused(saved, tmp_path):
    for i, damage in enumerate(["truncate", "flip", "delete"]):
        ck = _copy(saved, tmp_path / str(i))
        folder, _ = _files(ck)
        f = folder / "visited.npy"
        data = f.read_bytes()
        if damage == "truncate":
            f.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            f.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        else:
            f.unlink()
        code, _, err = dax_here("check", "--design", SMALL, "--resume", str(ck), "--no-write")
        _one_line(code, err, "--resume", "visited.npy")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"format": "daxcheck-checkpoint/1"}',
        '{"format": "daxcheck-checkpoint/1", "folder": "../x", "files": {}}',
    ],
)
def test_bad_manifest_refused(saved, tmp_path, text):
    ck = _copy(saved, tmp_path)
    (ck / MANIFEST).write_text(text)
    code, _, err = dax_here("check", "--design", SMALL, "--resume", str(ck), "--no-write")
    _one_line(code, err, "--resume")


def _reseal(ck, name, data):
    """Replace a checkpoint file by ``data`` with a matching manifest entry (an edit the
    SHA-256 cannot see: the consistency checks must)."""
    import hashlib

    folder, m = _files(ck)
    (folder / name).write_bytes(data)
    m["files"][name] = [len(data), hashlib.sha256(data).hexdigest()]
    (ck / MANIFEST).write_text(json.dumps(m))


def _npy(a):
    import io

    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


@pytest.mark.parametrize(
    "edit", ["level", "found", "visited", "unsorted", "fired", "pickle", "seed"]
)
def test_consistent_looking_but_wrong_checkpoint_refused(saved, tmp_path, edit):
    ck = _copy(saved, tmp_path)
    folder, _ = _files(ck)
    state = json.loads((folder / "state.json").read_text())
    if edit in ("level", "found", "seed"):
        if edit == "level":
            state["position"]["level"] = 99
        elif edit == "found":
            state["found"] = {"no_such": [1, 10**9, "5"]}
        else:
            state["run"]["seed"] = "x"
        _reseal(ck, "state.json", json.dumps(state).encode())
    elif edit == "visited":
        _reseal(ck, "visited.npy", _npy(np.zeros(3, dtype=np.uint64)))
    elif edit == "unsorted":
        _reseal(ck, "visited.npy", _npy(np.load(folder / "visited.npy")[::-1].copy()))
    elif edit == "fired":
        _reseal(ck, "fired.npy", _npy(np.zeros((2, 2), dtype=np.int64)))
    else:
        _reseal(ck, "fired.npy", _npy(np.array([object()], dtype=object)))
    code, _, err = dax_here("check", "--design", SMALL, "--resume", str(ck), "--no-write")
    _one_line(code, err, "--resume")


@pytest.mark.parametrize(
    "args,word",
    [
        (["--resume", "{d}/none"], "no checkpoint"),
        (["--checkpoint", "{d}/ck", "--resume", "{d}/ck"], "give one"),
        (["--checkpoint", "{d}/ck", "--design", "map-sync"], "one design"),
        (["--checkpoint", "{d}/ck", "--engine", "z3"], "explicit engine"),
        (["--checkpoint-every", "5"], "needs --checkpoint"),
        (["--checkpoint", "{d}/file"], "not a folder"),
        (["--checkpoint", "{d}/foreign"], "neither empty nor"),
        (["--checkpoint", ""], "empty path"),
    ],
)
def test_bad_checkpoint_options(tmp_path, args, word):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    argv = ["check", "--design", SMALL, "--no-write"] + [a.format(d=tmp_path) for a in args]
    code, _, err = dax_here(*argv)
    _one_line(code, err, word)
    assert (tmp_path / "file").read_text() == "mine"
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_existing_checkpoint_kept_unless_forced(saved, tmp_path):
    ck = _copy(saved, tmp_path)
    before = _manifest(ck)
    code, _, err = dax_here("check", "--design", SMALL, "--checkpoint", str(ck), "--no-write")
    _one_line(code, err, "holds a checkpoint", "--force")
    assert _manifest(ck) == before
    code, _, err = dax_here(
        "check", "--design", SMALL, "--checkpoint", str(ck), "--no-write", "--force", "--quiet"
    )
    assert code == 12, err
    assert _manifest(ck)["folder"] != before["folder"]
    assert not (ck / before["folder"]).exists()


def test_time_limit_stop_saves_and_resume_continues(tmp_path, monkeypatch):
    """A run stopped by its budget leaves a checkpoint at the stop; resuming completes it
    (the time limit counts per invocation, the reported seconds add up)."""
    m = make_model(DESIGNS["cow-srcmap"], {"depth": 4})
    props = pick_properties([])
    whole = explore_batched(m, props)
    opts = CheckpointOptions(str(tmp_path / "ck"), every=1e9)
    part = explore_batched(m, props, budget=Budget(time_limit=1e-9), checkpoint=opts)
    assert part.stats.stopped and part.stats.states < whole.stats.states
    assert _manifest(opts.path)["mid_level"]
    resumed = explore_batched(m, props, checkpoint=CheckpointOptions(opts.path, resume=True))
    assert _strip(resumed) == _strip(whole)
    assert resumed.stats.seconds >= part.stats.seconds


def test_a_failing_save_is_one_line_and_keeps_the_previous_checkpoint(saved, tmp_path, monkeypatch):
    """ENOSPC while saving: exit 2 with one line, the half-written folder removed, the
    previous checkpoint still resumable."""
    import daxcheck.checker.explicit.checkpoint as ckmod

    ck = _copy(saved, tmp_path)
    before = _manifest(ck)
    real = ckmod.atomic_write

    def full(path, data, **kw):
        if Path(path).name == "visited.npy":
            raise OSError(28, "No space left on device")
        return real(path, data, **kw)

    monkeypatch.setattr(ckmod, "atomic_write", full)
    code, _, err = dax_here(
        "check", "--design", SMALL, "--checkpoint", str(ck), "--force", "--no-write"
    )
    _one_line(code, err, "cannot save a checkpoint", "No space left on device")
    assert _manifest(ck) == before and sorted(p.name for p in ck.iterdir()) == sorted(
        [MANIFEST, before["folder"]]
    )
    monkeypatch.setattr(ckmod, "atomic_write", real)
    code, _, err = dax_here(
        "check", "--design", SMALL, "--resume", str(ck), "--no-write", "--quiet"
    )
    assert code == 12, err


@pytest.mark.parametrize(
    "extra,expect",
    [
        (["--checkpoint", "{d}", "--workers", "2"], "--checkpoint: runs in one process"),
        (["--checkpoint", "{d}", "--por"], "--checkpoint: not with --por"),
        (["--por", "--workers", "2"], "--por is not supported with --workers"),
    ],
)
def test_options_the_one_process_search_needs_are_refused_before_any_work(tmp_path, extra, expect):
    """Checkpoints and partial-order reduction run in the one-process explorer: with
    ``--workers 2`` (or each other) one line, exit 2, before Ray starts or a folder is made."""
    d = tmp_path / "ck"
    code, out, err = dax_here(
        "check", "--design", "fault-punch-unlocked", "--no-write", *[a.format(d=d) for a in extra]
    )
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, err
    assert not d.exists()


def _resume_outcome(ck, tmp_path, tag):
    """Resume ``ck``: ``(exit code, stderr, results without timings or None)``."""
    out = tmp_path / f"{tag}.json"
    code, _, err = dax_here(
        "check", "--design", SMALL, "--resume", str(ck), "--no-write", "--quiet", "--json", str(out)
    )
    return code, err, (_results(out) if out.exists() else None)


@pytest.fixture(scope="module")
def uninterrupted(saved, tmp_path_factory):
    """The results of the saved run resumed from its intact checkpoint."""
    import shutil

    d = tmp_path_factory.mktemp("whole")
    shutil.copytree(saved, d / "ck")
    code, err, res = _resume_outcome(d / "ck", d, "whole")
    assert code == 12 and res, err
    return res


def _npy_data_start(data):
    """Offset of the first data byte of an .npy file (after its header)."""
    import io

    import numpy.lib.format as fmt

    f = io.BytesIO(data)
    fmt.read_magic(f)
    fmt.read_array_header_1_0(f)
    return f.tell()


def test_frontier_words_edited_and_resealed_never_give_a_search_result(saved, tmp_path):
    """Issue 27: a byte of queue_words.npy flipped (anywhere in its data) and the SHA-256
    recomputed in MANIFEST.json: the state it changes is outside its domain, does not pack,
    has another fingerprint or is not in the visited set; one line, exit 2, never a
    search (main reported 956,044 states instead of 956,039 on cow-single-iomap)."""
    import random

    data = (_files(saved)[0] / "queue_words.npy").read_bytes()
    start = _npy_data_start(data)
    assert len(data) - start >= 64
    rng = random.Random(27)
    for k, pos in enumerate(rng.sample(range(start, len(data)), 12)):
        ck = _copy(saved, tmp_path / str(k))
        d = bytearray(data)
        d[pos] ^= 1 << rng.randrange(8)
        _reseal(ck, "queue_words.npy", bytes(d))
        code, err, res = _resume_outcome(ck, tmp_path, str(k))
        assert res is None, (pos, res)
        _one_line(code, err, "--resume", "queue_words.npy")


def test_a_visited_fingerprint_edited_and_resealed_is_refused(saved, tmp_path):
    """A fingerprint of an already expanded state replaced by another one that keeps the set
    sorted: only re-executing the links finds it (the resumed run would otherwise count the
    dropped state again: 601 states instead of 600)."""
    folder, _ = _files(saved)
    v = np.load(folder / "visited.npy")
    for k, i in enumerate((1, len(v) // 2, len(v) - 2)):
        ck = _copy(saved, tmp_path / str(k))
        w = v.copy()
        w[i] = w[i - 1] + (w[i] - w[i - 1]) // 2  # strictly between its neighbours
        assert w[i - 1] < w[i] < w[i + 1]
        _reseal(ck, "visited.npy", _npy(w))
        code, err, res = _resume_outcome(ck, tmp_path, str(k))
        assert res is None, res
        _one_line(code, err, "--resume", "visited")  # the set, or a frontier state not in it


@pytest.mark.parametrize("name", ["queue_words", "queue_fps", "visited", "init_rows"])
def test_a_zeroed_array_resealed_is_refused(saved, tmp_path, name):
    """The same array of zeros, resealed: refused (main searched on from all-zero states
    and reported 2,064,643 states)."""
    ck = _copy(saved, tmp_path)
    a = np.load(_files(ck)[0] / f"{name}.npy")
    _reseal(ck, f"{name}.npy", _npy(np.zeros_like(a)))
    code, err, res = _resume_outcome(ck, tmp_path, "r")
    assert res is None, res
    _one_line(code, err, "--resume")


def test_state_json_edited_and_resealed_is_one_line_or_the_same_run(saved, uninterrupted, tmp_path):
    """Bytes of state.json flipped and resealed: one line, exit 2 (not an internal error:
    main gave "ValueError: byte must be in range(0, 256)", exit 1), or, where the edit
    means nothing (the seconds spent, whitespace), exactly the uninterrupted run."""
    import random

    data = (_files(saved)[0] / "state.json").read_bytes()
    rng = random.Random(27)
    refused = 0
    for k, pos in enumerate(rng.sample(range(len(data)), 40)):
        ck = _copy(saved, tmp_path / str(k))
        d = bytearray(data)
        d[pos] ^= 1 << rng.randrange(8)
        _reseal(ck, "state.json", bytes(d))
        code, err, res = _resume_outcome(ck, tmp_path, str(k))
        if code == 2:
            _one_line(code, err, "--resume")
            refused += 1
        else:
            assert (code, res) == (12, uninterrupted), (pos, code, err)
    assert refused >= 20


@pytest.mark.parametrize(
    "edit", ["n_states", "manifest states", "manifest level", "base", "found index", "link"]
)
def test_counts_that_do_not_add_up_are_refused(saved, tmp_path, edit):
    """State count, level sizes, visited set, links and the manifest must agree."""
    ck = _copy(saved, tmp_path)
    folder, m = _files(ck)
    state = json.loads((folder / "state.json").read_text())
    if edit == "n_states":
        state["n_states"] += 1
        _reseal(
            ck,
            "visited.npy",
            _npy(np.append(np.load(folder / "visited.npy"), np.uint64(2**64 - 1))),
        )
    elif edit == "base":
        state["position"]["base"] = 1
    elif edit == "found index":
        name = next(iter(state["found"]))
        state["found"][name][1] = 10**6
    elif edit == "link":
        lk = np.load(folder / "links_002.npy")
        lk[0] = 10**7
        _reseal(ck, "links_002.npy", _npy(lk))
    if edit.startswith("manifest"):
        _, m = _files(ck)
        m[edit.split()[1]] += 1
        (ck / MANIFEST).write_text(json.dumps(m))
    else:
        _reseal(ck, "state.json", json.dumps(state).encode())
    code, err, res = _resume_outcome(ck, tmp_path, "r")
    assert res is None, res
    _one_line(code, err, "--resume", "inconsistent")
