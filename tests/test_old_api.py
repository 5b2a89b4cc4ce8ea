"""A user file written against the API before issue 24 (tests/user_files/old_api.py:
``daxcheck.spec.fsdax`` building blocks, ``daxcheck.spec.actions``, an old hook alias, the
deprecated ``dax_mark_dirty`` hook, settings, a ghost field) loads with DeprecationWarnings
and gives the verdicts it was written for; the old hook alias and the new hook name give
the same design; the setting ``map_sync`` (renamed ``mmap_map_sync`` in 0.2) still works as
a constructor argument and in ``variant``."""

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
from helpers import dax_here

from daxcheck import registries
from daxcheck.checker.explicit.explore import explore
from daxcheck.checker.results import VIOLATED
from daxcheck.checker.runner import load_user_files
from daxcheck.properties import PROPERTIES
from daxcheck.spec import actions, fsdax, ops
from daxcheck.spec.designs import DESIGNS, Design
from daxcheck.spec.kernel.dax import dax_insert_entry
from daxcheck.spec.kernel.views import file_view
from daxcheck.spec.kernel.xfs_reflink import xfs_reflink_remap_blocks
from daxcheck.spec.model import DaxModel

OLD = Path(__file__).parent / "user_files" / "old_api.py"
NAMES = (
    "old-api-cow",
    "old-api-single-iomap",
    "old-api-no-cow-copy",
    "old-api-no-dirty",
    "old-api-no-map-sync",
)


@pytest.fixture
def old_api():
    with registries.isolated():
        with pytest.warns(DeprecationWarning) as caught:
            load_user_files(str(OLD), str(OLD))
        yield [str(w.message) for w in caught]


def _run(design):
    r = explore(DaxModel(design), list(PROPERTIES.values()))
    return r, {n for n, v in r.verdicts.items() if v.status == VIOLATED}


def test_old_api_file_loads_with_deprecation_warnings(old_api):
    assert any("dax_mark_dirty" in w for w in old_api)
    assert all(n in DESIGNS for n in NAMES)
    assert actions.Action is ops.Action and actions.remap_range is xfs_reflink_remap_blocks
    assert fsdax.insert_entry is dax_insert_entry and fsdax.file_view is file_view
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        fsdax.nonesuch  # noqa: B018 (the attribute access is the test)


def test_old_api_designs_give_their_verdicts(old_api):
    for name in NAMES:
        _, violated = _run(DESIGNS[name])
        assert violated == set(DESIGNS[name].expect_violated), name
    assert DESIGNS["old-api-no-dirty"].expect_violated == {"durable_after_sync"}


def test_old_hook_alias_is_the_new_hook(old_api):
    class NewNoCowCopy(Design):
        def dax_iomap_copy_around(self, L, d, src_kind, src, dst, segs, whole):
            pass

    old = DESIGNS["old-api-no-cow-copy"]
    new = NewNoCowCopy(**{f.name: getattr(old, f.name) for f in dataclasses.fields(Design)})
    (r_old, v_old), (r_new, v_new) = _run(old), _run(new)
    assert (r_old.stats.states, v_old) == (r_new.stats.states, v_new)


def test_old_setting_name_map_sync_is_an_alias(old_api):
    assert any("'map_sync' is deprecated" in w and "'mmap_map_sync'" in w for w in old_api)
    old = DESIGNS["old-api-no-map-sync"]
    new = DESIGNS["map-sync"].variant(mmap_map_sync=False, bounds=old.bounds)
    assert old.mmap_map_sync is False and "map_sync" not in old.settings()
    (r_old, v_old), (r_new, v_new) = _run(old), _run(new)
    assert (r_old.stats.states, v_old) == (r_new.stats.states, v_new)
    assert (
        r_old.stats.states != _run(DESIGNS["map-sync"].variant(bounds=old.bounds))[0].stats.states
    )
    with pytest.warns(DeprecationWarning, match="'map_sync' is deprecated"):
        built = Design("built", "user", "constructed the old way", map_sync=False)
    assert built.mmap_map_sync is False
    assert dataclasses.replace(built, name="again").mmap_map_sync is False
    assert built.variant(cow="single-iomap").mmap_map_sync is False


def test_old_api_file_from_the_command_line():
    code, out, err = dax_here("list", "designs", "--designs", str(OLD))
    assert code == 0, err
    assert "old-api-no-map-sync" in out and "unknown setting" not in err


def test_public_building_blocks_in_the_docs_have_those_signatures():
    """docs/extending.md lists the public building blocks with their signatures: each
    exists at the module named and has exactly that signature."""
    doc = (Path(__file__).parent.parent / "docs" / "extending.md").read_text()
    section = doc.split("## Reference: public building blocks")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(daxcheck\.[\w.]+)\.(\w+)(\([^`]*)` \|", section, re.M)
    assert len(rows) >= 25 and "xfs_reflink_remap_blocks" in {n for _, n, _ in rows}
    for mod, name, sig in rows:
        fn = getattr(importlib.import_module(mod), name)
        want = sig.replace("\\|", "|").replace("'", "")
        assert str(inspect.signature(fn)).replace("'", "") == want, f"{mod}.{name}"
