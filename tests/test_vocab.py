"""The vocabulary computes directly on Python values and lifts to symbols (here the taint
backend, which records dependencies) with the same code."""

import pytest

from daxcheck.checker.explicit.readset import Dep, TaintState, read_set, taint_backend
from daxcheck.spec import vocab as V
from daxcheck.spec.vocab import SymbolicUseError


def test_concrete_connectives():
    assert V.If(True, 1, 2) == 1 and V.If(False, 1, 2) == 2
    assert V.And(True, True) is True and V.And(True, False) is False and V.And() is True
    assert V.Or(False, True) is True and V.Or() is False
    assert (
        V.Not(True) is False and V.Implies(False, False) is True and V.Implies(True, False) is False
    )
    assert (
        V.ForAll(range(3), lambda i: i < 3) is True and V.ForAll(range(3), lambda i: i < 2) is False
    )
    assert (
        V.Exists(range(3), lambda i: i == 2) is True
        and V.Count(range(5), lambda i: i % 2 == 0) == 3
    )


def test_first_select_store_when():
    assert V.first(range(4), lambda i: i > 1) == (True, 2)
    assert V.first(range(4), lambda i: i > 9) == (False, 0)
    s = bytes([5, 6, 7])
    assert V.select(s, (0, 1, 2), 2) == 7
    d = V.draft(s)
    V.store(d, (0, 1, 2), 1, 9)
    V.when(d, False, lambda d: d.__setitem__(0, 0))
    V.when(d, True, lambda d: d.__setitem__(2, 1))
    assert V.freeze(d) == bytes([5, 9, 1]) and type(V.freeze(d)) is bytes
    assert V.require(True) is True and V.require(False) is False


def test_symbolic_select_and_store_visit_the_whole_domain():
    with taint_backend():
        s = TaintState(4)
        v = V.select(s, (0, 1, 2), s[3])
        assert isinstance(v, Dep) and v.offs == {0, 1, 2, 3}
        d = V.draft(s)
        V.store(d, (0, 1, 2), s[3], 7)
        assert all(isinstance(d[i], Dep) and 3 in d[i].offs for i in range(3))


def test_symbolic_when_guards_every_changed_field():
    with taint_backend() as b:
        s = TaintState(3)
        d = V.draft(s)
        V.when(d, s[0] == 1, lambda d: d.__setitem__(1, 5))
        assert d[1] is not s[1] and d[1].offs == {0, 1} and d[2] is s[2]
        assert V.require(s[2] == 0) is True and len(b.guards) == 1


def test_python_truth_test_on_a_state_value_is_a_clear_error():
    def bad(L, s):
        if s[0] == 1:  # not allowed: use If/when  # noqa: SIM103 (the Python branch is the test)
            return True
        return False

    class L:
        width = 2

    assert read_set(bad, L) is None
    with taint_backend(), pytest.raises(SymbolicUseError, match="truth test"):
        bad(L, TaintState(2))


def test_no_backend_means_a_clear_error_for_non_bool_conditions():
    with pytest.raises(SymbolicUseError, match="compare state fields explicitly"):
        V.If(1, 2, 3)


def test_out_of_range_index_means_the_same_concretely_and_symbolically():
    s = bytes([5, 6, 7, 9])
    assert V.select(s, (0, 1, 2), 200) == 7
    d = V.draft(s)
    V.store(d, (0, 1, 2), 200, 1)
    assert bytes(d) == s
