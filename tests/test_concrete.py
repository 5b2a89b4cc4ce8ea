"""Byte-level replay: the simulated x86 cache, the pmem buffer's bad inputs, the shipped
counterexamples' byte-level symptoms, the refinement check on random traces and a planted
bug that the refinement check must catch."""

from __future__ import annotations

import os

import pytest
from helpers import WIDE, Crash, Fallocate, Fault, Mmap, Reflink, Store, Write, per_design
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daxcheck.checker.concrete.executor import (
    Codec,
    ConcreteExecutor,
    RefinementError,
    replay_concrete,
)
from daxcheck.checker.concrete.pmem import BLOCK, LINE, MAX_ENUM, PmemBuffer, PmemError
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.trace import Trace, TraceError, read_itf
from daxcheck.properties import PROPERTIES
from daxcheck.spec.designs import ALL_FAMILIES, DESIGNS, Design
from daxcheck.spec.model import DaxModel
from daxcheck.spec.state import STALE

A = b"\xaa" * LINE
B = b"\xbb" * LINE


@pytest.fixture
def pm():
    with PmemBuffer(2 * BLOCK) as p:
        yield p


# ------------------------------------------------------------------ cache model
def test_cached_store_is_visible_but_not_persisted(pm):
    pm.store(0, A)
    assert pm.load(0, LINE) == A
    assert pm.media(0, LINE) == bytes(LINE)
    assert pm.dirty(0, LINE)


def test_flush_without_fence_does_not_persist(pm):
    pm.store(0, A)
    pm.clwb(0, LINE)
    assert pm.media(0, LINE) == bytes(LINE)
    pm.crash()
    assert pm.media(0, LINE) == bytes(LINE)
    assert pm.load(0, LINE) == bytes(LINE)


def test_fence_without_flush_does_not_persist_a_cached_store(pm):
    pm.store(0, A)
    pm.sfence()
    assert pm.media(0, LINE) == bytes(LINE)
    pm.crash()
    assert pm.load(0, LINE) == bytes(LINE)


def test_flush_then_fence_persists_only_what_was_flushed(pm):
    pm.store(0, A)
    pm.store(LINE, A)
    pm.clwb(0, LINE)  # line 0 only
    pm.store(0, B)  # after the flush: not covered by it
    pm.sfence()
    assert pm.media(0, 2 * LINE) == A + bytes(LINE)
    assert pm.load(0, LINE) == B
    pm.crash()
    assert pm.load(0, 2 * LINE) == A + bytes(LINE)


def test_nt_store_persists_at_the_next_fence(pm):
    pm.nt_store(BLOCK, A)
    assert pm.load(BLOCK, LINE) == A  # coherent before the fence
    assert pm.media(BLOCK, LINE) == bytes(LINE)
    pm.sfence()
    assert pm.media(BLOCK, LINE) == A
    assert not pm.dirty(BLOCK, LINE)


def test_nt_store_supersedes_a_dirty_cached_line(pm):
    pm.store(0, A)
    pm.nt_store(0, B)
    pm.sfence()
    pm.crash()
    assert pm.load(0, LINE) == B


def test_crash_images_respect_per_line_order(pm):
    pm.store(0, b"\x01" * 8)  # version 1 of line 0: bytes 0-7
    pm.store(8, b"\x02" * 8)  # version 2 of line 0: bytes 0-15
    pm.store(LINE, b"\x03" * LINE)  # line 1
    images = list(pm.crash_images())
    assert pm.crash_image_count() == 3 * 2 == len(images)
    line0 = {img.media[:16] for img in images}
    old = bytes(16)
    assert line0 == {old, b"\x01" * 8 + bytes(8), b"\x01" * 8 + b"\x02" * 8}
    assert b"\x00" * 8 + b"\x02" * 8 not in line0  # the later store never alone
    assert images[0].media == pm.media()  # first image: nothing persisted
    assert pm.load(0, 16) == b"\x01" * 8 + b"\x02" * 8  # enumeration changed nothing


def test_crash_images_enumerated_up_to_2_to_the_12_then_sampled_with_a_seed(pm):
    for ln in range(12):
        pm.store(ln * LINE, A)
    assert pm.crash_image_count() == MAX_ENUM
    assert len({img.media for img in pm.crash_images(sample=5)}) == MAX_ENUM
    pm.store(12 * LINE, A)
    assert pm.crash_image_count() == 2 * MAX_ENUM
    s1 = [img.choice for img in pm.crash_images(sample=20, seed=3)]
    s2 = [img.choice for img in pm.crash_images(sample=20, seed=3)]
    s3 = [img.choice for img in pm.crash_images(sample=20, seed=4)]
    assert len(s1) == 20 and s1 == s2 and s1 != s3
    assert all(k == 0 for _, k in s1[0]) and all(k == 1 for _, k in s1[1])


def test_evict_writes_back_without_a_fence(pm):
    pm.store(0, A)
    pm.evict(0, LINE)
    pm.crash()
    assert pm.media(0, LINE) == A


def test_out_of_range_access_is_a_pmem_error(pm):
    with pytest.raises(PmemError, match="outside"):
        pm.store(2 * BLOCK - 8, A)


# ------------------------------------------------------------------ pmem path errors
def test_pmem_path_missing(tmp_path):
    with pytest.raises(PmemError, match="does not exist"):
        PmemBuffer(BLOCK, tmp_path / "nope")


def test_pmem_path_too_small(tmp_path):
    p = tmp_path / "small"
    p.write_bytes(bytes(BLOCK))
    with pytest.raises(PmemError, match="too small"):
        PmemBuffer(2 * BLOCK, p)


def test_pmem_path_directory(tmp_path):
    with pytest.raises(PmemError, match="directory"):
        PmemBuffer(BLOCK, tmp_path)


def test_pmem_path_not_writable(tmp_path, monkeypatch):
    p = tmp_path / "ro"
    p.write_bytes(bytes(BLOCK))
    p.chmod(0o444)
    if os.geteuid() == 0:  # root may write anything: make access(2) answer as for a user
        real = os.access
        monkeypatch.setattr(
            os,
            "access",
            lambda q, mode, **kw: (
                False if os.fspath(q) == str(p) and mode & os.W_OK else real(q, mode, **kw)
            ),
        )
    with pytest.raises(PmemError, match="not writable"):
        PmemBuffer(BLOCK, p)


def _user_file(tmp_path, n=3 * BLOCK):
    p = tmp_path / "pmem.img"
    p.write_bytes(b"U" * n)
    return p


def test_user_pmem_file_is_copied_unless_forced(tmp_path):
    p = _user_file(tmp_path)
    m = DaxModel(DESIGNS["cow-single-iomap"])
    acts = [Write(0, 0, 0, 1, 1)]
    rep = replay_concrete(m, acts, pmem_path=p)
    assert rep.pmem_copy_of == str(p) and rep.pmem_path != str(p)
    assert p.read_bytes() == b"U" * (3 * BLOCK)
    assert [f.name for f in tmp_path.iterdir()] == ["pmem.img"]  # copy removed
    rep = replay_concrete(m, acts, pmem_path=p, force=True)
    assert rep.pmem_path == str(p) and rep.pmem_copy_of is None
    data = p.read_bytes()
    assert data[:12] == b"DAXCHECK t=1" and b"STALE-PMEM pblk=2" in data[2 * BLOCK :]


def test_trace_larger_than_the_user_file(tmp_path):
    p = _user_file(tmp_path, BLOCK)
    m = DaxModel(DESIGNS["cow-single-iomap"])  # 3 physical blocks
    with pytest.raises(PmemError, match="too small"):
        replay_concrete(m, [Write(0, 0, 0, 1, 1)], pmem_path=p)


def test_disabled_step_is_a_trace_error():
    m = DaxModel(DESIGNS["cow-srcmap"])
    with pytest.raises(TraceError, match="step 1: store"):
        replay_concrete(m, [Store(0, 0, 0, 0, 1)])


def test_bad_crash_states():
    m = DaxModel(DESIGNS["cow-srcmap"])
    with pytest.raises(ValueError, match="crash_states"):
        replay_concrete(m, [], crash_states=0)


# ------------------------------------------------------------------ patterns
def test_codec_round_trip():
    c = Codec()
    seg = c.data_segment(2, 1, 0, 1, 7, "store")
    assert len(seg) == 2048 and c.segment_token(seg) == 2
    info = c.line(seg[:LINE])
    assert (info.file, info.blk, info.seg, info.step, info.via) == (1, 0, 1, 7, "store")
    assert c.segment_token(c.stale_block(3)[:2048]) == STALE
    assert c.segment_token(bytes(2048)) == 0
    assert c.segment_token(seg[:1024] + bytes(1024)) is None  # torn
    assert c.line(b"x" * LINE).kind == "garbled"


# ------------------------------------------------------------------ shipped counterexamples
SYMPTOM = {
    (
        "reflink-single-owner",
        "no_page_two_mappings",
    ): "page->mapping/index name only file b index 0",
    ("immutable-extents", "immutable_extents_never_move"): "the sealed physical range holds zeros",
    (
        "userspace-flush",
        "durable_after_sync",
    ): "promised t1 by a sync, but the recovered file ends at byte 0",
    (
        "mixed-dirty-tracking",
        "durable_after_sync",
    ): "promised t1 by a sync, but after recovery reads zeros",
    ("cow-single-iomap", "no_stale_data"): "file a, bytes 2048-4095 read stale pmem contents",
    ("cow-in-core-refcount", "durable_after_sync"): "after recovery reads file b's data",
    (
        "hole-size-unknown",
        "mapping_matches_extents",
    ): "bytes 4096-8191: loads return zeros (the zero page) but read(2) returns t1",
    (
        "reflink-range-single-owner",
        "no_page_two_mappings",
    ): "mapped by file a index 0, file a index 1",
    (
        "read-fault-unshared-flag",
        "no_kernel_warning",
    ): "reaches WARN_ON_ONCE: dax_associate_entry: page->mapping already set",
    (
        "cow-fault-in-place",
        "dedupe_shares_equal_data",
    ): "is shared by file a block 0 and file b block 0 and holds t2",
    ("cow-edges-stale", "no_stale_data"): "file a, bytes 2048-4095 read stale pmem contents",
    (
        "dedupe-raw-media",
        "read_returns_last_write",
    ): "read(2) of file b, bytes 0-2047 return zeros, but the last write there was t1",
    (
        "dedupe-stale-srcmap",
        "read_returns_last_write",
    ): "read(2) of file a, bytes 4096-6143 return t2 (file b's data",
    (
        "dma-pin-ignored",
        "pinned_pages_stay_allocated",
    ): "are pinned for a DMA into file a block 0, but now belong to no file (free)",
    (
        "map-sync-dirty-if-new",
        "durable_after_sync",
    ): "promised t1 by a sync, but the recovered file ends at byte 0",
    (
        "map-sync-no-sync-fault",
        "durable_after_sync",
    ): "promised t1 by a sync, but the recovered file ends at byte 0",
    (
        "seal-ignores-collapse",
        "immutable_extents_never_move",
    ): "sealed file a block 0 was at pmem bytes 0x00000-0x00fff (p0) when sealed but now "
    "lives at p1",
    (
        "pmd-lookup-index-only",
        "pmd_excludes_pte",
    ): "a PMD entry covers bytes 0-8191 but index 1 (bytes 4096-8191) still has a 4 KiB entry",
    (
        "write-keeps-zero-page",
        "read_returns_last_write",
    ): "P0's loads from file a, bytes 0-2047 return zeros, but the last write there was t1",
    (
        "pmd-private-no-split",
        "pmd_excludes_pte",
    ): "P0 maps file a with a PMD and also with a PTE at bytes 0-4095 (an anonymous CoW page)",
    (
        "dax-toggle-immediate",
        "dax_flag_changes_only_when_unmapped",
    ): "file a is no longer DAX (S_DAX clear) but P0 still maps bytes 0-4095 to pmem block p0",
    # the race designs (issue 11)
    (
        "fault-punch-unlocked",
        "mapping_matches_extents",
    ): "P0's mapping of file a, bytes 0-4095: loads return t1",
    (
        "fault-write-late-entry-lock",
        "read_returns_last_write",
    ): "P0's loads from file a, bytes 0-2047 return zeros, but the last write there was t1",
    (
        "pmd-pte-fault-no-recheck",
        "pmd_excludes_pte",
    ): "P0 maps file a with a PMD and also with a PTE at bytes 0-4095 (an anonymous CoW page)",
    (
        "busy-page-no-unmap",
        "pinned_pages_stay_allocated",
    ): "are pinned for a DMA into file a block 0, but now belong to no file (free)",
    (
        "busy-page-wait-holds-mmaplock",
        "no_deadlock",
    ): "(punch_hole at xfs_wait_dax_page) waits for pin of the page under a[0]",
    (
        "mkwrite-unlocked",
        "durable_after_sync",
    ): "promised t2 by a sync, but after recovery reads t1",
    (
        "fault-truncate-unlocked",
        "mapping_matches_extents",
    ): "P0 maps file a, bytes 0-4095 beyond EOF (i_size 0 bytes): loads return t1",
    (
        "pmd-mkclean-pte-only",
        "durable_after_sync",
    ): "promised t2 by a sync, but after recovery reads t1",
    (
        "write-fault-double-zero",
        "read_returns_last_write",
    ): "P0's loads from file a, bytes 0-2047 return zeros, but the last write there was t1",
}
"""The byte-level symptom of each seed design's claimed violation (every violation's byte-level
reproduction is checked by the gate, tests/test_designs.py)."""
VIOLATING = sorted(n for n, d in DESIGNS.items() if d.expect_violated)


def test_every_violating_design_has_an_expected_symptom():
    assert set(VIOLATING) == {n for n, _ in SYMPTOM}


@pytest.mark.parametrize("name,prop", sorted(SYMPTOM))
def test_shipped_counterexample_replays_byte_level(name, prop, tmp_path):
    d = DESIGNS[name]
    m = DaxModel(d)
    v = explore(m, [PROPERTIES[prop]]).verdicts[prop]
    assert v.status == "violated"
    t = Trace.from_path(m, v.trace, prop)
    path = tmp_path / f"{name}.itf.json"
    t.write(m, path)
    t2, m2, _ = read_itf(path)  # the CLI's route
    rep = replay_concrete(m2, t2.actions, prop=t2.prop, crash_states=64)
    assert rep.refinement_ok and rep.steps == t.depth
    assert rep.reproduced
    text = "\n".join(rep.lines())
    assert SYMPTOM[name, prop] in text, text
    if prop == "durable_after_sync":
        assert rep.crash_images_failed >= 1
        # dirty cache lines left at the end give many crash images
        dirty = name in ("mixed-dirty-tracking", "mkwrite-unlocked", "pmd-mkclean-pte-only")
        assert rep.crash_images_checked == (64 if dirty else 1)


def test_crash_points_inside_a_trace_are_checked():
    m = DaxModel(DESIGNS["map-sync"])
    acts = [Mmap(0, 0, True), Fallocate(0, 0), Fault(0, 0, 0, True), Store(0, 0, 0, 0, 1), Crash()]
    rep = replay_concrete(m, acts, crash_states=16)
    inner = [c for c in rep.crashes if not c.at_end]
    assert len(inner) == 1 and inner[0].after_step == 4
    # the store was never flushed: its 32 lines are pending (2^32 images, sampled); any
    # subset may persist, which is legitimate data, and nothing was promised for it.
    assert inner[0].sampled and inner[0].possible == 2**32
    assert inner[0].checked == 16 and inner[0].failed == 0
    assert not rep.reproduced


# ------------------------------------------------------------------ refinement
@pytest.mark.parametrize("name", per_design())
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_refinement_on_random_traces(name, data):
    m = DaxModel(DESIGNS[name])
    depth = data.draw(st.integers(8, 12), label="depth")
    s, acts = m.init_states()[0], []
    for _ in range(depth):
        succ = list(m.successors(s))
        if not succ:
            break
        i, s = succ[data.draw(st.integers(0, len(succ) - 1))]
        acts.append(m.actions[i])
    rep = replay_concrete(m, acts, crash_states=8)  # raises RefinementError on divergence
    assert rep.refinement_ok and rep.steps == len(acts)
    if not DESIGNS[name].expect_violated:
        assert not rep.reproduced, "\n".join(rep.lines())


@pytest.mark.parametrize("name", per_design())
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_refinement_on_random_traces_of_every_action_family(name, data):
    # every family (reflink_range, truncate, evict, pmd_fault, seal...) at wider bounds;
    # out of a design's scope its byte-level checks may fire, so only refinement is pinned
    m = DaxModel(DESIGNS[name].variant(families=ALL_FAMILIES), WIDE)
    s, acts = m.init_states()[0], []
    for _ in range(data.draw(st.integers(8, 12), label="depth")):
        succ = list(m.successors(s))
        i, s = succ[data.draw(st.integers(0, len(succ) - 1))]
        acts.append(m.actions[i])
    rep = replay_concrete(m, acts, crash_states=8)
    assert rep.refinement_ok and rep.steps == len(acts)


def _cow_trace():
    # full write, reflink, then an unaligned write that CoWs a's block (segment 1 uncovered)
    return [Write(0, 0, 0, 1, 1), Reflink(0, 1), Write(0, 0, 0, 0, 2)]


def test_planted_spec_bug_is_caught_by_the_refinement_check(monkeypatch):
    m = DaxModel(DESIGNS["cow-srcmap"])
    replay_concrete(m, _cow_trace())  # agrees before the bug is planted
    monkeypatch.setattr(Design, "dax_iomap_copy_around", lambda self, L, d, *a: None)
    with pytest.raises(RefinementError) as e:
        replay_concrete(m, _cow_trace())
    msg = str(e.value)
    assert "step 3 write(file=a, idx=0, lo=0, hi=0, token=t2)" in msg and "media[p1,s1]" in msg
    assert "\n" not in msg
    rep = replay_concrete(m, _cow_trace(), strict=False)
    assert not rep.refinement_ok and rep.refinement_error == msg and rep.steps == 2


def test_planted_executor_bug_is_caught_by_the_refinement_check(monkeypatch):
    m = DaxModel(DESIGNS["cow-srcmap"])
    monkeypatch.setattr(ConcreteExecutor, "_zero_block", lambda self, b: None)
    with pytest.raises(
        RefinementError, match=r"step 1 write\(file=a, idx=0, lo=0, hi=0, token=t1\).*media\[p0"
    ):
        replay_concrete(m, [Write(0, 0, 0, 0, 1)])


def test_write_history_is_refinement_checked_against_the_ghost(monkeypatch):
    m = DaxModel(DESIGNS["cow-srcmap"])
    monkeypatch.setattr(ConcreteExecutor, "_do_reflink", lambda self, a, s, ns: None)
    with pytest.raises(
        RefinementError, match=r"step 2 reflink\(src=a, dst=b\): ghost_written\[b,0,s0,t1\]"
    ):
        replay_concrete(m, _cow_trace())
