"""How the report writes numbers: p-values at the bootstrap's resolution."""

from __future__ import annotations

from bench.paper import stats
from bench.paper.text import p_statement, poi_sentence


def test_a_p_value_at_the_bootstrap_floor_is_written_as_a_bound():
    # 999 replicates, none on the null's side: p = 2 / 1000 is the floor, the true p is at most that.
    floor = stats.Test(1.0, 1.0, 1.0, 0.002, adjusted_p=0.006, p_at_floor=True)
    assert p_statement(floor) == "Holm-adjusted p ≤ 0.0060"
    assert p_statement(floor, adjusted=False) == "p ≤ 0.0020"
    assert poi_sentence("better", floor, family=False) == "better, P(X > Y) = 1.00 [1.00, 1.00], p ≤ 0.0020 (a single test)"


def test_other_p_values_are_written_as_equalities():
    test = stats.Test(0.6, 0.4, 0.8, 0.31, adjusted_p=0.62)
    assert p_statement(test) == "Holm-adjusted p = 0.62" and p_statement(test, adjusted=False) == "p = 0.31"
    tiny = stats.Test(1.0, 1.0, 1.0, 0.0004, adjusted_p=0.0008, p_at_floor=True)  # 9,999 replicates
    assert p_statement(tiny) == "Holm-adjusted p < 0.001"


def test_a_bound_is_rounded_up_not_to_nearest():
    # 150 replicates: the floor is 2 / 151 = 0.013245...; "p ≤ 0.013" would claim less than the data show.
    floor = stats.Test(1.0, 1.0, 1.0, 2 / 151, adjusted_p=2 / 151, p_at_floor=True)
    assert p_statement(floor, adjusted=False) == "p ≤ 0.014"
