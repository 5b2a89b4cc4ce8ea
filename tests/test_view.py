"""Pictures of traces: the HTML view rendered in a real headless Chromium (one row per step,
a screenshot that is not blank), and the state graph exported with networkx."""

import html.parser
import shutil
import subprocess

import networkx as nx
import pytest
from helpers import dax

from daxcheck.checker.gate import SHIPPED_DIR
from daxcheck.checker.trace import read_itf

CEX = SHIPPED_DIR / "cow-single-iomap__no_stale_data.itf.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    r = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.steps, self.svgs, self.failing = 0, 0, 0

    def handle_starttag(self, tag, attrs):
        cls = (dict(attrs).get("class") or "").split()
        self.steps += tag == "tr" and "step" in cls
        self.svgs += tag == "svg"
        self.failing += "failing" in cls


def test_view_writes_one_self_contained_page(tmp_path):
    out = tmp_path / "cx.html"
    r = dax("view", str(CEX), "--html", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing external
    p = Rows()
    p.feed(page)
    depth = read_itf(CEX)[0].depth
    assert p.steps == depth and p.svgs == depth + 1 and p.failing == depth + 1
    assert "write(file=a, idx=0, lo=0, hi=0, token=t1)" in page and "a[0].s1" in page
    mine = tmp_path / "notes.html"
    mine.write_text("mine")
    r = dax("view", str(CEX), "--html", str(mine))
    assert r.returncode == 2 and mine.read_text() == "mine"


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here (Debian package `chromium`; .ci/run installs it)"
)
def test_view_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    out = tmp_path / "cx.html"
    assert dax("view", str(CEX), "--html", str(out)).returncode == 0
    dom = chromium(tmp_path, "--dump-dom", out.as_uri())
    p = Rows()
    p.feed(dom)
    assert p.steps == read_itf(CEX)[0].depth and p.svgs == p.steps + 1
    shot = tmp_path / "shot.png"
    chromium(
        tmp_path,
        "--window-size=1280,1400",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        out.as_uri(),
    )
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 1400)
    colors = img.getcolors(maxcolors=1 << 20)
    white = max(colors)[0]
    assert len(colors) > 50 and white < 0.95 * img.size[0] * img.size[1]  # not blank
    red = sum(n for n, (r, g, b) in colors if r > 180 and g < 60 and b < 60)
    assert red > 100  # the failing item is outlined red


def test_graph_export_graphml_and_dot(tmp_path):
    g = tmp_path / "g.graphml"
    r = dax("graph", "--design", "hole-size-unknown", "--depth", "3", "--out", str(g))
    assert r.returncode == 0, r.stderr
    G = nx.read_graphml(g)
    assert G.number_of_nodes() > 10 and G.number_of_edges() >= G.number_of_nodes() - 1
    bad = [n for n, d in G.nodes(data=True) if not d["mapping_matches_extents"]]
    assert bad and all(G.nodes[n]["depth"] == 3 for n in bad)  # violated first at depth 3
    assert {d["family"] for _, _, d in G.edges(data=True)} >= {"mmap", "write", "pmd_fault"}
    d = tmp_path / "g.dot"
    assert (
        dax("graph", "--design", "hole-size-unknown", "--depth", "2", "--out", str(d)).returncode
        == 0
    )
    assert (
        d.read_text().startswith(("digraph", "strict digraph")) and "pmd_fault" not in d.read_text()
    )
    r = dax("graph", "--design", "cow-srcmap", "--out", str(tmp_path / "big.dot"))
    assert r.returncode == 2 and "more than 5,000 states" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = dax(
        "graph", "--design", "hole-size-unknown", "--depth", "2", "--out", str(tmp_path / "g.png")
    )
    assert r.returncode == 2 and ".graphml or .dot" in r.stderr
