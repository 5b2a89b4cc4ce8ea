"""Issue 25: byte granularity as a bound (``--segs 100,110``: segments cut at byte offsets,
``Bounds.cuts``), so a byte range such as offset 100 length 10 is one whole segment."""

from __future__ import annotations

import json

import pytest
from helpers import Read, Write, dax_here, field, run

from daxcheck.checker.trace import read_itf
from daxcheck.spec.designs import DESIGNS
from daxcheck.spec.kernel.views import file_view
from daxcheck.spec.model import DaxModel
from daxcheck.spec.segments import seg_spans
from daxcheck.spec.state import Bounds, BoundsError, Layout

A = 0


def test_cuts_set_by_segs_tuple_and_kept_out_of_the_default_shape():
    b = Bounds(blocks=2).replace(segs=(100, 110))
    assert (b.segs, b.cuts) == (3, (100, 110))
    assert seg_spans(b) == ((0, 100), (100, 110), (110, 4096))
    assert b.as_dict()["cuts"] == [100, 110]
    assert Bounds(**json.loads(json.dumps(b.as_dict()))).validate() == b
    assert "cuts" not in Bounds().as_dict()
    assert seg_spans(Bounds()) == ((0, 2048), (2048, 4096))
    assert b.replace(segs=4).cuts == ()  # an int segs splits evenly again


@pytest.mark.parametrize(
    "cuts, words",
    [((110, 100), "strictly increasing"), ((0, 5), "strictly increasing"), ((4096,), "1..4095")],
)
def test_bad_cuts_are_one_line_errors(cuts, words):
    with pytest.raises(BoundsError, match=words):
        Bounds().replace(segs=cuts)
    with pytest.raises(BoundsError, match="makes 2 segments, not segs=3"):
        Bounds(segs=3, cuts=(100,)).validate()


def test_byte_range_is_exact_or_names_the_cuts_that_make_it_exact():
    L = Layout(Bounds(blocks=2).replace(segs=(100, 110)))
    assert L.byte_range(100, 10) == (0, 1, 1)
    assert L.byte_range(4096 + 100, 4096 - 100) == (1, 1, 2)
    assert L.byte_range(0, 4096) == (0, 0, 2)
    with pytest.raises(BoundsError, match="--segs 100,110 makes them exact"):
        Layout(Bounds()).byte_range(100, 10)
    with pytest.raises(BoundsError, match="not a range inside one"):
        L.byte_range(4000, 200)


def test_a_ten_byte_write_changes_exactly_its_segment():
    m = DaxModel(DESIGNS["cow-srcmap"], Bounds(files=1, blocks=1, phys=2).replace(segs=(100, 110)))
    x, lo, hi = m.L.byte_range(100, 10)
    s = run(m, Write(A, x, lo, hi, 1))
    assert [file_view(m.L, s, A, 0, g) for g in m.L.segs] == [0, 1, 0]
    assert field(m, s, "size", A) == 1
    assert m.next_state(s, Read(A, 0)) is not None


def test_check_with_byte_cuts_writes_them_to_the_trace_and_replays_on_the_spec(tmp_path):
    code, out, err = dax_here(
        "check", "--design", "cow-edges-stale", "--segs", "100,110", "--out", str(tmp_path)
    )
    assert code == 12, err
    t = sorted(tmp_path.glob("*.itf.json"))[0]
    assert json.loads(t.read_text())["#meta"]["bounds"]["cuts"] == [100, 110]
    _, model, _ = read_itf(t)
    assert model.bounds.cuts == (100, 110) and model.bounds.segs == 3
    code, out, err = dax_here("replay", str(t))
    assert code == 12 and "no byte-level replay" in out and "(on the spec)" in out


def test_bad_segs_on_the_command_line_is_one_line():
    code, out, err = dax_here("check", "--design", "cow-edges-stale", "--segs", "100,90")
    assert code == 2 and err.count("\n") == 1 and "strictly increasing" in err
    code, out, err = dax_here("check", "--design", "cow-edges-stale", "--segs", "1,x")
    assert code == 2 and "is not N or BYTE,BYTE" in err
