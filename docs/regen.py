#!/usr/bin/env python3
"""Regenerate (or check) the command output shown in README.md and docs/*.md.

A block of output in those files follows a marker naming the command that produced it:

    <!-- output: daxcheck check --design hole-size-unknown --no-write -->
    ```
    $ daxcheck check --design hole-size-unknown --no-write
    (what it printed)
    ```

The marker may start with environment settings (``COLUMNS=110 daxcheck list hooks``;
COLUMNS is 80 unless set) and end with ``exit N`` (the exit code the command must give;
0 unless set).  Every command of one Markdown file runs, in order, in one fresh temporary
folder holding ``tests/user_files/*.py`` and every ```` ```python ```` block of that file
whose first line is ``# NAME.py`` (written as NAME.py), so a later command sees the files
an earlier one wrote (``check`` writes a trace, ``replay`` reads it).  ``daxcheck`` is
this interpreter's ``python -m daxcheck``.

``python docs/regen.py`` rewrites every block with what the commands print now;
``python docs/regen.py --check`` changes nothing and exits 1 naming each block that differs.
Compared after normalising what varies from run to run (seconds, states per second): a
line ``...`` in a block stands for any number of lines of output, so a block may show an
excerpt.  A block that still matches is left as it is; one that does not is rewritten with
the full output (trim it again by hand if it was an excerpt).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- output: (.*?) -->\n```[^\n]*\n(.*?)```\n", re.S)
FILE_BLOCK = re.compile(r"```python\n# ([\w.-]+\.py)\b[^\n]*\n(.*?)```", re.S)


@dataclass
class Block:
    """One output block: the marker's command (``env``, ``argv``, expected ``code``), the
    block's text as the file has it (``shown``), its character span in the file."""

    env: dict
    argv: list
    code: int
    shown: str
    span: tuple

    @property
    def command(self) -> str:
        return " ".join(["daxcheck", *map(shlex.quote, self.argv)])


def parse_marker(text: str) -> tuple[dict, list, int]:
    """``"COLUMNS=110 daxcheck list hooks exit 12"`` -> ``({"COLUMNS": "110"},
    ["list", "hooks"], 12)``.  ValueError when the command is not a daxcheck command."""
    words = shlex.split(text)
    env, code = {"COLUMNS": "80"}, 0
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    if len(words) >= 2 and words[-2] == "exit":
        code = int(words[-1])
        words = words[:-2]
    if not words or words[0] != "daxcheck":
        raise ValueError(f"not a daxcheck command: {text!r}")
    return env, words[1:], code


def blocks(text: str) -> list[Block]:
    """The output blocks of a Markdown text, in order."""
    out = []
    for m in MARKER.finditer(text):
        env, argv, code = parse_marker(m.group(1))
        out.append(Block(env, argv, code, m.group(2), m.span()))
    return out


def normalise(text: str) -> str:
    """What varies between runs of the same command, replaced: seconds, rates, temporary
    paths, trailing blanks."""
    text = re.sub(r"/tmp/[^\s,]+", "/tmp/TMP", text)
    text = re.sub(r"\b\d+(\.\d+)?s\b", "Ns", text)
    text = re.sub(r"[\d,]+ states/s", "N states/s", text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def matches(shown: str, actual: str) -> bool:
    """Whether a block's text is the command's output, ``...`` lines standing for any
    number of lines."""
    want = normalise(shown).splitlines()
    got = normalise(actual).splitlines()
    parts, cur = [], []
    for line in want:
        if line.strip() in ("...", "[...]"):
            parts.append(cur)
            cur = []
        else:
            cur.append(line)
    parts.append(cur)
    if len(parts) == 1:
        return want == got
    first, *middle, last = parts
    if got[: len(first)] != first or (last and got[len(got) - len(last) :] != last):
        return False
    at, end = len(first), len(got) - len(last)
    for part in middle:  # each excerpt in order, anywhere after the previous one
        at = next(
            (
                i + len(part)
                for i in range(at, end - len(part) + 1)
                if got[i : i + len(part)] == part
            ),
            None,
        )
        if at is None:
            return False
    return at <= end


def sandbox(doc_text: str) -> Path:
    """A fresh folder with tests/user_files/*.py and the doc's ``# NAME.py`` blocks."""
    d = Path(tempfile.mkdtemp(prefix="daxcheck-docs-"))
    for f in (ROOT / "tests" / "user_files").glob("*.py"):
        shutil.copy(f, d / f.name)
    for name, body in FILE_BLOCK.findall(doc_text):
        (d / name).write_text(body)
    return d


def run(block: Block, cwd: Path) -> str:
    """Run a block's command; its stdout (stderr appended when it printed any).  A wrong
    exit code raises RuntimeError naming the command."""
    env = {**os.environ, **block.env}
    r = subprocess.run(
        [sys.executable, "-m", "daxcheck", *block.argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != block.code:
        raise RuntimeError(
            f"{block.command}: exit {r.returncode}, expected {block.code}\n{r.stdout}{r.stderr}"
        )
    return r.stdout + r.stderr


def process(doc: Path, *, check: bool) -> list[str]:
    """Run every output block of ``doc``; with ``check`` return a line per block that
    differs, else rewrite the differing blocks with the output and return what changed."""
    text = doc.read_text()
    found = blocks(text)
    if not found:
        return []
    cwd = sandbox(text)
    problems, new, at = [], [], 0
    try:
        for b in found:
            actual = f"$ {b.command}\n" + run(b, cwd)
            if matches(b.shown, actual):
                continue
            problems.append(f"{doc.relative_to(ROOT)}: the output of `{b.command}` changed")
            marker_end = text.index("\n", b.span[0]) + 1
            fence = text[marker_end : text.index("\n", marker_end) + 1]
            new.append(
                (b.span, text[b.span[0] : marker_end] + fence + actual.rstrip("\n") + "\n```\n")
            )
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    if not check and new:
        out = []
        for (a, b), repl in new:
            out.append(text[at:a] + repl)
            at = b
        doc.write_text("".join(out) + text[at:])
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a block differs from its command's output",
    )
    ap.add_argument(
        "files", nargs="*", type=Path, help="Markdown files (default: README.md and docs/*.md)"
    )
    args = ap.parse_args(argv)
    problems = []
    for doc in args.files or DOCS:
        try:
            problems += process(doc.resolve(), check=args.check)
        except (RuntimeError, ValueError) as e:
            print(f"regen: {doc}: {e}", file=sys.stderr)
            return 2
    for p in problems:
        print(("stale: " if args.check else "rewrote: ") + p)
    return 1 if problems and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
