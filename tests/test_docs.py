"""README.md and docs/ cannot go stale: every block of command output is regenerated from
its marker by docs/regen.py and compared here; the tutorial's snippets are the whole
tutorial file; the quickstart is first; every relative link resolves."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from helpers import dax_here

from daxcheck import registries
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import HOLDS, VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.model import DaxModel

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
OWN_DOCS = [
    README,
    ROOT / "CONTRIBUTING.md",
    *[p for p in sorted((ROOT / "docs").glob("*.md")) if p.name != "real-dax.md"],
]
"""The documents these rules cover (docs/real-dax.md is the real-DAX campaign's record)."""

_spec = importlib.util.spec_from_file_location("docs_regen", ROOT / "docs" / "regen.py")
regen = importlib.util.module_from_spec(_spec)
sys.modules["docs_regen"] = regen  # dataclasses look their module up there
_spec.loader.exec_module(regen)

WITH_OUTPUT = [p for p in regen.DOCS if regen.blocks(p.read_text())]


def test_regen_finds_the_output_blocks():
    names = {p.name for p in WITH_OUTPUT}
    assert {"README.md", "extending.md", "cli.md", "engines.md"} <= names


@pytest.mark.parametrize("doc", WITH_OUTPUT, ids=lambda p: p.name)
def test_output_blocks_are_what_the_commands_print(doc):
    """Each ``<!-- output: CMD -->`` block against CMD's output now (times normalised,
    ``...`` elisions); ``python docs/regen.py`` rewrites a stale one."""
    assert regen.process(doc, check=True) == []


def test_regen_compares_excerpts_and_normalises_times():
    out = "a\nb 1.2s\nc\nd\ne"
    assert regen.matches("a\nb 0.3s\n...\ne", out)
    assert regen.matches("a\n...\nc\n...", out)
    assert not regen.matches("a\n...\nx\n...", out)
    assert not regen.matches("a\nb 0.3s\nc", out)  # no elision: the whole output
    assert regen.parse_marker("COLUMNS=110 daxcheck list hooks exit 12") == (
        {"COLUMNS": "110"},
        ["list", "hooks"],
        12,
    )
    with pytest.raises(ValueError):
        regen.parse_marker("rm -rf /")


@pytest.mark.parametrize("doc", OWN_DOCS, ids=lambda p: p.name)
def test_every_bare_block_is_generated_or_a_dated_measurement(doc):
    """A fenced block without a language is output: it follows an ``output:`` marker
    (checked above) or a ``measured:`` one (a benchmark's record); inputs say what they
    are (```sh, ```python, ```text)."""
    lines = doc.read_text().split("\n")
    inside = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if not inside and line == "```":
                assert re.match(r"<!-- (output|measured): ", lines[i - 1]), (
                    f"{doc.name}:{i + 1}: a bare block without an output/measured marker"
                )
            inside = not inside


def test_the_tutorial_snippets_are_the_whole_file(tmp_path):
    """The ```python blocks of docs/extending.md, in order, are a complete user file: it
    loads and finds the tutorial's bug (depth 2) on the broken design and nothing on the
    fixed one."""
    text = (ROOT / "docs" / "extending.md").read_text()
    code = "\n\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    f = tmp_path / "from_the_doc.py"
    f.write_text(code)
    with registries.isolated():
        load_user_files(str(f), str(f))
        props = list(PROPERTIES.values())
        bad = explore(DaxModel(DESIGNS["dsync-dirty-if-new"]), props)
        good = explore(DaxModel(DESIGNS["dsync-dirty-if-pinned"]), props)
    assert {p: v.depth for p, v in bad.verdicts.items() if v.status == VIOLATED} == {
        "dsync_writes_survive_crash": 2
    }
    assert {v.status for v in good.verdicts.values()} == {HOLDS}


def test_readme_is_a_quickstart():
    """At most 250 lines; the two commands in lines 1-10 (the second is the test command
    .ci/run runs); the three uses; the links to the reference; no words about the machine
    but "2-core VM" next to a figure."""
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= 250
    head = "\n".join(lines[:10])
    assert "pip install -e . && daxcheck check" in head
    test_cmd = "python -m pytest -q -p no:cacheprovider -n auto --dist loadfile"
    assert f"pip install -q -e '.[test,distributed]' && {test_cmd}" in head
    assert re.search(rf"^{re.escape(test_cmd)}$", (ROOT / ".ci" / "run").read_text(), re.M)
    for heading in (
        "## Reading the output",
        "## Find a counterexample",
        "## Write an invariant",
        "## Gate CI on a design change",
    ):
        assert heading in lines
    for link in (
        "docs/extending.md",
        "docs/ci.md",
        "docs/engines.md",
        "docs/benchmarks.md",
        "docs/real-dax.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
    ):
        assert f"]({link})" in text, link
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    assert "this VM" not in prose and "this machine" not in prose
    assert all(m.group(0) == "2-core VM" for m in re.finditer(r"\S+ VM", prose))


@pytest.mark.parametrize(
    "doc", [*OWN_DOCS, ROOT / "ARCHITECTURE.md", ROOT / "CHANGELOG.md"], ids=lambda p: p.name
)
def test_relative_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (doc.parent / target).exists(), f"{doc.name}: {target}"


def test_the_command_synopsis_names_real_options():
    """Every option docs/cli.md's synopsis shows for a command is in that command's
    ``--help`` (a renamed or dropped option makes the synopsis stale)."""
    text = (ROOT / "docs" / "cli.md").read_text()
    synopsis = re.search(r"## Commands\n\n```text\n(.*?)```", text, re.S).group(1)
    commands = {}
    for line in synopsis.splitlines():
        if line.startswith("daxcheck "):
            words = line.split()
            cmd = tuple(words[1:3]) if words[1] == "kernel" else (words[1],)
            opts = commands.setdefault(cmd, set())
        opts.update(re.findall(r"--[a-z][a-z-]*", line))
    assert len(commands) >= 10
    for cmd, opts in commands.items():
        code, out, err = dax_here(*cmd, "--help")
        assert code == 0, err
        missing = {o for o in opts if o not in out}
        assert not missing, f"daxcheck {' '.join(cmd)}: {sorted(missing)}"
