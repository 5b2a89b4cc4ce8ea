"""The pytest plugin: a kernel developer's own suite asserts verdicts in process, any
number of times (registries isolated per test, user files loaded idempotently)."""

from daxcheck import registries

DESIGNS_FILE = """
from daxcheck.spec.designs import DESIGNS, register_design
register_design(DESIGNS["iomap-hole-size"].variant(
    name="my-hole", hole_size="unknown", expect_violated=frozenset({"mapping_matches_extents"})))
register_design(DESIGNS["iomap-hole-size"].variant(
    name="claims-fixed", hole_size="unknown", expect_violated=frozenset()))
"""

USER_SUITE = '''
import pytest
from daxcheck.properties import invariant

FILE = {path!r}


def test_a_design_from_a_file(daxcheck):
    assert daxcheck.load_designs(FILE) == ["my-hole", "claims-fixed"]
    r = daxcheck.check_design("my-hole", ["mapping_matches_extents", "no_stale_data"])
    assert r.violated == {{"mapping_matches_extents"}} and r.holding == {{"no_stale_data"}}
    assert r.depth_of("mapping_matches_extents") == 3 and r.states == 1913 and r.exit_code == 12
    r.assert_expected()


@pytest.mark.parametrize("n", range(3))
def test_own_invariant_defined_in_every_test(daxcheck, n):
    @invariant
    def size_small(L, s):
        """File a never grows past one block (a user's invariant)."""
        return s[L.size[0]] <= 1
    daxcheck.load_designs(FILE)
    r = daxcheck.check_design("my-hole", ["size_small"], depth=2)
    assert r.violated == {{"size_small"}} and r.traces["size_small"].depth == 1


def test_a_wrong_expectation_is_named(daxcheck):
    daxcheck.load_designs(FILE)
    r = daxcheck.check_design("claims-fixed", ["mapping_matches_extents"])
    with pytest.raises(AssertionError, match="unexpected violation of mapping_matches_extents"):
        r.assert_expected()
'''


def test_plugin_fixture_in_a_users_suite(pytester, tmp_path):
    f = tmp_path / "my_designs.py"
    f.write_text(DESIGNS_FILE)
    pytester.makepyfile(test_user_suite=USER_SUITE.format(path=str(f)))
    before = registries.names()
    with registries.isolated():  # the inner session shares this process
        result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert registries.names() == before
