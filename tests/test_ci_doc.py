"""docs/ci.md works as written: its setup command and its gate script run on a user project
copied to a temporary folder (with ``daxcheck`` on PATH), pass there, and fail with the
trace on disk after a wrong design change; the workflow runs the script and uploads what it
writes."""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from junitparser import Failure, JUnitXml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
TUTORIAL = ROOT / "tests" / "user_files" / "dsync_write.py"
PROPS = '''from daxcheck.properties import invariant


@invariant
def file_a_stays_small(L, s):
    """File a never grows past one block (a user's invariant)."""
    return s[L.size[0]] <= 1
'''


def block(info: str) -> str:
    """The fenced block of docs/ci.md whose info string is ``info``."""
    m = re.search(rf"```{re.escape(info)}\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"no ```{info} block in {DOC}"
    return m.group(1)


def sh(script: str, cwd: Path, bin_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_shell_gate_of_docs_ci_on_a_copied_project(tmp_path):
    bin_dir = tmp_path / "bin"  # `daxcheck` as installed by pip
    bin_dir.mkdir()
    shim = bin_dir / "daxcheck"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m daxcheck "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "laptop" / "myproject"
    work.mkdir(parents=True)
    shutil.copy(TUTORIAL, work / "designs.py")
    (work / "props.py").write_text(PROPS)
    r = sh(block("sh setup"), work, bin_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    (work / "ci" / "gate.sh").write_text(block("sh ci/gate.sh"))
    clone = tmp_path / "runner" / "checkout"  # the CI's clone, elsewhere
    shutil.copytree(work, clone)
    shutil.rmtree(tmp_path / "laptop")

    r = sh("sh ci/gate.sh", clone, bin_dir)
    assert r.returncode == 0 and "gate passed" in r.stdout, r.stdout + r.stderr
    xml = JUnitXml.fromfile(str(clone / "daxcheck-junit.xml"))
    assert xml.failures == 0 and xml.tests > 0
    assert (clone / "daxcheck.json").is_file() and (clone / "daxcheck-summary.md").is_file()

    d = clone / "designs.py"  # a wrong change: the fixed design broken
    d.write_text(
        d.read_text().replace(
            "register_design(FIXED)\n",
            "register_design(DirtyOnlyIfNew(**{f.name: getattr("
            "FIXED, f.name) for f in fields(Design)}))\n",
        )
    )
    r = sh("sh ci/gate.sh", clone, bin_dir)
    assert r.returncode == 1, r.stdout + r.stderr
    trace = clone / "gate-failures" / "dsync-dirty-if-pinned__dsync_writes_survive_crash.itf.json"
    assert trace.is_file()
    failed = {
        (c.classname, c.name)
        for s in JUnitXml.fromfile(str(clone / "daxcheck-junit.xml"))
        for c in s
        if any(isinstance(x, Failure) for x in c.result)
    }
    assert ("dsync-dirty-if-pinned", "dsync_writes_survive_crash") in failed
    hint = "daxcheck gate --update ci/manifest.json --designs designs.py --properties props.py"
    assert hint in r.stdout and hint in DOC.read_text()


def test_the_workflow_runs_the_script_and_uploads_its_files():
    wf = block("yaml .github/workflows/daxcheck.yml")
    script = block("sh ci/gate.sh")
    assert "run: sh ci/gate.sh" in wf
    for f in ("daxcheck-junit.xml", "daxcheck.json", "daxcheck-summary.md", "gate-failures"):
        assert f in script and f in wf
    assert "if: always()" in wf


def test_the_install_step_names_a_real_source(tmp_path):
    """No placeholder: the shell step and the workflow install from ``DAXCHECK_SOURCE``,
    by default ``./daxcheck`` (the submodule the project tree shows, checked out with
    ``submodules: true``); run with a stub ``pip`` the step passes the source on as given."""
    text = DOC.read_text()
    assert "OWNER" not in text
    install, wf = block("sh install"), block("yaml .github/workflows/daxcheck.yml")
    assert '"${DAXCHECK_SOURCE:-./daxcheck}"' in install and "submodules: true" in wf
    assert '"${DAXCHECK_SOURCE:-./daxcheck}"' in wf and "vars.DAXCHECK_SOURCE" in wf
    assert "  daxcheck/ " in text
    bin_dir = tmp_path / "bin"  # python3 that records what pip was asked to install
    bin_dir.mkdir()
    stub = bin_dir / "python3"
    stub.write_text('#!/bin/sh\n[ "$1 $2 $3" = "-m pip install" ] && echo "$4" >> installed\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "gate.sh").write_text("true\n")
    assert sh(install, tmp_path, bin_dir).returncode == 0
    env_src = "daxcheck @ git+https://git.example.org/daxcheck.git@v0.1.0"
    r = subprocess.run(
        ["sh", "-c", install],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "DAXCHECK_SOURCE": env_src,
        },
    )
    assert r.returncode == 0
    assert (tmp_path / "installed").read_text().splitlines() == ["./daxcheck", env_src]
