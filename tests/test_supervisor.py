"""The supervisor (issue 27, :mod:`daxcheck.supervisor`): the console script runs the
command in a worker process and enforces, from outside it, what a user's code can defeat
in process.  Every test runs the real command in a subprocess under a wall-clock bound."""

import os
import signal
import subprocess
import sys
import time

import pytest

from daxcheck.checker.oracle.differential import unavailable_reason

CHECK = ["check", "--design", "userspace-flush", "--no-write", "--quiet"]
BOUND = 45.0
"""Seconds any of these runs may take (a 2 s time limit, 5 s grace, 2 s kill grace, and a
slow interpreter start on a loaded machine)."""


def daxcheck(*args, cwd, env=None):
    """Run ``python -m daxcheck ARGS`` (supervised); ``(exit code, stderr, seconds)``."""
    t = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND + 30,
    )
    return r.returncode, r.stderr, time.monotonic() - t


def _one_line(err, *words):
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


PREDICATE = '''import os, signal, threading, time
from daxcheck.properties import invariant


@invariant
def mine(L, s):
    """A user's predicate that misbehaves."""
{body}
'''


def _predicate(tmp_path, body):
    f = tmp_path / "mine.py"
    f.write_text(PREDICATE.format(body="\n".join("    " + x for x in body.split("\n"))))
    return ["--properties", str(f), "--property", "mine"]


@pytest.mark.parametrize(
    "what,body,line",
    [
        (
            "disarmed alarm",
            "signal.setitimer(signal.ITIMER_REAL, 0)\nsignal.alarm(0)\nwhile True:\n    pass",
            11,
        ),
        (
            "blocked signals",
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, "
            "signal.SIGTERM, signal.SIGINT})\nwhile True:\n    pass",
            10,
        ),
    ],
)
def test_a_predicate_that_defeats_the_alarm_is_stopped_from_outside(tmp_path, what, body, line):
    """main: never stopped (the alarm disarmed), or only by SIGKILL (signals blocked)."""
    code, err, secs = daxcheck(
        *CHECK, *_predicate(tmp_path, body), "--time-limit", "2", cwd=tmp_path
    )
    assert code == 75, err
    _one_line(err, "time limit 2s reached in design userspace-flush", "stopped by the supervisor")
    assert f"mine.py:{line - 1}," in err or f"mine.py:{line}," in err, err  # the loop
    assert secs < BOUND


def test_a_user_file_that_hangs_while_loading_is_stopped(tmp_path):
    """main: --time-limit did not cover loading a user file (``while True: pass``)."""
    f = tmp_path / "hang.py"
    f.write_text("x = 0\nwhile True:\n    x += 1\n")
    code, err, secs = daxcheck(*CHECK, "--designs", str(f), "--time-limit", "2", cwd=tmp_path)
    assert code == 75, err
    _one_line(err, "loading user files", "hang.py:")
    assert secs < BOUND


def test_a_stray_non_daemon_thread_neither_hangs_nor_prints(tmp_path):
    """main: daxcheck never exited; on SIGTERM a traceback ending in SystemExit: 143."""
    args = _predicate(tmp_path, "return True")
    f = tmp_path / "mine.py"
    f.write_text(
        "import threading, time\nthreading.Thread(target=lambda: time.sleep(10**6))"
        ".start()\n" + f.read_text()
    )
    code, err, secs = daxcheck(*CHECK, *args, cwd=tmp_path)
    assert code == 0 and err == "" and secs < BOUND, err
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daxcheck",
            "check",
            "--design",
            "cow-single-iomap",
            "--depth",
            "7",
            "--no-write",
            "--quiet",
            *args,
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=BOUND)
    assert p.returncode == 143, err
    _one_line(err, "terminated")


def test_os_exit_in_atexit_cannot_change_the_exit_code(tmp_path):
    """main: a refused user file whose atexit handler calls os._exit(0) exited 0."""
    f = tmp_path / "refused.py"
    f.write_text(
        "import atexit, os\natexit.register(lambda: os._exit(0))\nraise ValueError('refused')\n"
    )
    code, err, _ = daxcheck(*CHECK, "--designs", str(f), cwd=tmp_path)
    assert code == 2, err
    _one_line(err, "refused.py line 3: ValueError: refused")


@pytest.mark.parametrize(
    "body,words",
    [
        (
            "import ctypes\nreturn ctypes.string_at(0) == b''",
            ["died of SIGSEGV", "design userspace-flush"],
        ),
        ("os._exit(0)", ["exited (status 0)", "without reporting a result"]),
    ],
)
def test_a_worker_that_dies_is_one_line_exit_3(tmp_path, body, words):
    code, err, secs = daxcheck(*CHECK, *_predicate(tmp_path, body), cwd=tmp_path)
    assert code == 3, err
    _one_line(err, *words)
    assert secs < BOUND


def test_memory_limit_is_incomplete(tmp_path):
    code, err, secs = daxcheck(
        "check",
        "--design",
        "cow-single-iomap",
        "--depth",
        "7",
        "--no-write",
        "--quiet",
        "--memory-limit",
        "300",
        cwd=tmp_path,
    )
    assert code == 75, err
    _one_line(err, "out of memory (--memory-limit 300 MB)")


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_sigkill_of_daxcheck_leaves_no_worker_behind(tmp_path):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daxcheck",
            "check",
            "--design",
            "cow-single-iomap",
            "--depth",
            "7",
            "--no-write",
            "--quiet",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    until = time.monotonic() + BOUND
    while not _children(p.pid) and time.monotonic() < until:
        time.sleep(0.05)
    workers = _children(p.pid)
    assert workers, "no worker started"
    p.kill()
    p.wait()
    until = time.monotonic() + 10
    while os.path.exists(f"/proc/{workers[0]}") and time.monotonic() < until:
        try:
            with open(f"/proc/{workers[0]}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break  # a zombie waiting for init: dead
        except OSError:
            break
        time.sleep(0.05)
    alive = os.path.exists(f"/proc/{workers[0]}")
    if alive:
        with open(f"/proc/{workers[0]}/stat") as f:
            alive = not f.read().split(") ")[1].startswith("Z")
    assert not alive, "the worker outlived daxcheck"


def test_the_in_process_path_is_kept(tmp_path):
    """DAXCHECK_NO_SUPERVISOR=1 runs the command in one process (as cli.main, the pytest
    plugin and the library do): same verdicts and exit code."""
    env = dict(os.environ, DAXCHECK_NO_SUPERVISOR="1")
    a = daxcheck(*CHECK, "--json", "a.json", cwd=tmp_path, env=env)
    b = daxcheck(*CHECK, "--json", "b.json", cwd=tmp_path)
    assert a[0] == b[0] == 12, (a, b)
    import json

    strip = [
        [
            {k: v for k, v in r.items() if k != "seconds"}
            for r in json.loads((tmp_path / f).read_text())["results"]
        ]
        for f in ("a.json", "b.json")
    ]
    assert strip[0] == strip[1]


TAMPER = '''import atexit, os
from daxcheck.properties import invariant

OUT = ("out.json", "out.xml", "out.md", "cx/userspace-flush__durable_after_sync.itf.json")


def tamper():
    os.makedirs("cx", exist_ok=True)
    for f in OUT:
        with open(f, "w") as fh:
            fh.write("tampered")


tamper()
atexit.register(lambda: (tamper(), os._exit(0)))


@invariant
def tampers(L, s):
    """Holds; overwrites the result files whenever it is evaluated."""
    tamper()
    return True
'''


def test_the_parent_alone_writes_the_result_files(tmp_path):
    """issue 27: the worker sends its result files over the pipe and the parent writes
    them once the worker has ended, so a user's file that overwrites them when imported,
    in a predicate, and in an atexit handler that then calls os._exit(0) changes neither
    their contents nor the exit code (in process it turns the run into exit 0)."""
    import json
    import xml.etree.ElementTree as ET

    (tmp_path / "tamper.py").write_text(TAMPER)
    code, err, secs = daxcheck(
        "check",
        "--design",
        "userspace-flush",
        "--quiet",
        "--properties",
        "tamper.py",
        "--out",
        "cx",
        "--force",
        "--json",
        "out.json",
        "--junit",
        "out.xml",
        "--summary",
        "out.md",
        cwd=tmp_path,
    )
    assert code == 12 and err == "" and secs < BOUND, err
    doc = json.loads((tmp_path / "out.json").read_text())
    assert doc["exit_code"] == 12
    verdicts = {r["property"]: r["verdict"] for r in doc["results"]}
    assert verdicts["tampers"] == "holds" and verdicts["durable_after_sync"] == "violated"
    suite = ET.parse(tmp_path / "out.xml").getroot()
    assert int(suite.get("failures")) >= 1 and int(suite.get("tests")) == len(verdicts)
    assert (tmp_path / "out.md").read_text().startswith("<!-- daxcheck summary -->")
    trace = json.loads((tmp_path / "cx/userspace-flush__durable_after_sync.itf.json").read_text())
    assert trace["#meta"]["property"] == "durable_after_sync"


def test_a_result_file_that_cannot_be_written_is_one_line_exit_2(tmp_path):
    """A destination folder replaced by a regular file while the run goes on (here by the
    user's file, after the paths were checked): one line naming the file, exit 2."""
    (tmp_path / "d").mkdir()
    args = _predicate(tmp_path, "return True")
    f = tmp_path / "mine.py"
    f.write_text("import os\nos.rmdir('d')\nopen('d', 'w').close()\n" + f.read_text())
    code, err, _ = daxcheck(*CHECK, *args, "--json", "d/r.json", cwd=tmp_path)
    assert code == 2, err
    _one_line(err, "d/r.json")


ORACLE_REASON = unavailable_reason()


def _daxcheck_mounts() -> set:
    with open("/proc/mounts") as fh:
        return {line.split()[1] for line in fh if "daxcheck-xfs-" in line}


@pytest.mark.skipif(ORACLE_REASON is not None, reason=ORACLE_REASON or "")
def test_the_oracle_is_stopped_at_its_time_limit_and_cleans_up(tmp_path):
    """``daxcheck oracle`` runs under the supervisor too: ``--time-limit`` from the parent
    (SIGTERM, the loop mount removed by the worker's cleanup), one line, exit 75."""
    before = _daxcheck_mounts()
    code, err, secs = daxcheck("oracle", "--runs", "1000000", "--time-limit", "2", cwd=tmp_path)
    assert code == 75, err
    _one_line(err, "time limit 2s reached in oracle --target loop-xfs", "it cleaned up")
    assert secs < BOUND
    assert not _daxcheck_mounts() - before
    assert list(tmp_path.iterdir()) == []
