"""How the report writes numbers: p-values."""

from __future__ import annotations

from bench.paper import stats
from bench.paper.text import p_statement, poi_sentence


def test_p_values_are_written_as_equalities_and_under_a_thousandth_as_a_bound():
    test = stats.Test(0.6, 0.4, 0.8, 0.31, adjusted_p=0.62)
    assert p_statement(test) == "Holm-adjusted p = 0.62" and p_statement(test, adjusted=False) == "p = 0.31"
    exact = stats.Test(1.0, 1.0, 1.0, 2 / 252, adjusted_p=4 / 252)  # five seeds against five, complete separation
    assert p_statement(exact) == "Holm-adjusted p = 0.016"
    assert poi_sentence("better", exact, family=False) == "better, P(X > Y) = 1.00 [1.00, 1.00], p = 0.0079 (a single test)"
    tiny = stats.Test(1.0, 1.0, 1.0, 0.0004, adjusted_p=0.0008)
    assert p_statement(tiny) == "Holm-adjusted p < 0.001"
