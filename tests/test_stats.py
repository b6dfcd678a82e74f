"""Statistics on arrays small enough to work out by hand, and a cross-check against rliable."""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats
import pytest

from bench.paper import stats


def test_iqm_of_hand_computable_arrays():
    # 8 values: trim 2 from each end -> mean of 3, 4, 5, 6.
    assert stats.iqm(np.array([1, 2, 3, 4, 5, 6, 7, 100])) == pytest.approx(4.5)
    assert stats.iqm(np.array([[1, 100], [2, 6], [3, 7], [4, 5]])) == pytest.approx(4.5)
    assert stats.median(np.array([1, 2, 3, 10])) == 2.5 and stats.mean(np.array([1, 2, 3, 10])) == 4.0
    # Several tasks: median and mean of the per-task means (rliable's definition).
    two_tasks = np.array([[1.0, 10.0], [3.0, 30.0]])
    assert stats.median(two_tasks) == 11.0 and stats.mean(two_tasks) == 11.0


def test_probability_of_improvement_by_hand():
    x = np.array([[3.0], [1.0]])
    y = np.array([[2.0], [1.0]])
    # pairs: 3>2, 3>1, 1<2, 1==1 -> (1 + 1 + 0 + 0.5) / 4
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.625)
    assert stats.probability_of_improvement(y, x) == pytest.approx(0.375)
    two_tasks_x = np.array([[1.0, 0.0], [1.0, 0.0]])
    two_tasks_y = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert stats.probability_of_improvement(two_tasks_x, two_tasks_y) == pytest.approx(0.5)


def test_performance_profile_by_hand():
    scores = np.array([[0.1, 0.5], [0.9, 0.3]])
    np.testing.assert_allclose(stats.performance_profile(scores, np.array([0.0, 0.2, 0.5, 1.0])), [1, 0.75, 0.25, 0])


def test_first_crossing():
    assert stats.first_crossing(np.array([10, 20, 30]), np.array([0.1, 0.9, 0.95]), 0.9) == 20
    assert np.isnan(stats.first_crossing(np.array([10, 20]), np.array([0.1, 0.2]), 0.9))


def test_bootstrap_is_reproducible_and_seed_dependent():
    scores = np.random.default_rng(0).normal(size=(10, 3))
    first = stats.bootstrap_interval(scores, stats.iqm, 500, np.random.default_rng(7))
    again = stats.bootstrap_interval(scores, stats.iqm, 500, np.random.default_rng(7))
    other = stats.bootstrap_interval(scores, stats.iqm, 500, np.random.default_rng(8))
    assert first == again and first != other
    assert first.low <= first.estimate <= first.high


def test_bootstrap_resamples_within_each_task():
    # Task 0 is always 0 and task 1 always 10: a stratified resample keeps both
    # tasks in every replicate, so the mean never moves from 5.
    scores = np.array([[0.0, 10.0]] * 6)
    interval = stats.bootstrap_interval(scores, stats.mean, 200, np.random.default_rng(0))
    assert interval.low == interval.high == 5.0


def test_interval_shrinks_with_more_seeds():
    rng = np.random.default_rng(1)
    few = stats.bootstrap_interval(rng.normal(size=(5, 1)), stats.mean, 1000, np.random.default_rng(0))
    many = stats.bootstrap_interval(rng.normal(size=(200, 1)), stats.mean, 1000, np.random.default_rng(0))
    assert many.high - many.low < few.high - few.low


def test_cross_check_against_rliable():
    from rliable import library as rly
    from rliable import metrics

    scores = np.random.default_rng(3).gamma(2.0, size=(12, 4))
    assert stats.iqm(scores) == pytest.approx(metrics.aggregate_iqm(scores))
    assert stats.median(scores) == pytest.approx(metrics.aggregate_median(scores))
    # rliable ignores random_state and draws from the global RNG: seed it around the call.
    state = np.random.get_state()
    try:
        np.random.seed(0)
        estimates, intervals = rly.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]),
                                                          reps=4000)
    finally:
        np.random.set_state(state)
    ours = stats.bootstrap_interval(scores, stats.iqm, 4000, np.random.default_rng(0))
    assert ours.estimate == pytest.approx(float(estimates["x"][0]))
    # Different draws, same method: the interval ends agree to within bootstrap noise.
    width = ours.high - ours.low
    assert ours.low == pytest.approx(float(intervals["x"][0, 0]), abs=0.1 * width)
    assert ours.high == pytest.approx(float(intervals["x"][1, 0]), abs=0.1 * width)

    poi_theirs = metrics.probability_of_improvement(scores, scores[::-1] * 0.8)
    assert stats.probability_of_improvement(scores, scores[::-1] * 0.8) == pytest.approx(poi_theirs)


def test_holm_by_hand():
    # Sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04): input order kept.
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # Monotone: a smaller raw p never gets a larger adjusted p than a later one.
    assert stats.holm([0.03, 0.01]) == pytest.approx([0.03, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_difference_test_separates_and_ties():
    apart = stats.bootstrap_difference(np.array([400.0, 420, 440, 460]), np.array([20.0, 22, 24, 26]), stats.iqm,
                                       999, np.random.default_rng(0))
    # Four seeds against four on one task: 70 splits, each side's extreme reached by two (the IQM ignores the
    # runs it trims, so swapping them changes nothing): exactly 4 / 70, not a bound; scipy agrees.
    assert apart.estimate == pytest.approx(430 - 23) and apart.low > 0
    assert apart.p_value == pytest.approx(4 / 70)
    reference = scipy_stats.permutation_test(([400.0, 420, 440, 460], [20.0, 22, 24, 26]),
                                             lambda a, b: stats.iqm(a) - stats.iqm(b),
                                             permutation_type="independent", n_resamples=np.inf).pvalue
    assert apart.p_value == pytest.approx(reference) and stats.smallest_p(4, 4, 1, stats.iqm) == pytest.approx(4 / 70)
    # Interleaved samples: no difference can be claimed.
    close = stats.bootstrap_difference(np.array([20.0, 22, 24, 26]), np.array([21.0, 23, 25, 27]), stats.iqm,
                                       999, np.random.default_rng(0))
    assert close.low < 0 < close.high and close.p_value > 0.05
    same = stats.bootstrap_difference(np.array([1.0, 2]), np.array([1.0, 2]), stats.iqm, 99, np.random.default_rng(0))
    assert same.estimate == 0 and same.p_value == 1.0


def test_probability_of_improvement_test_gives_a_p_value():
    better = stats.probability_of_improvement_test(np.array([5.0, 6, 7, 8, 9]), np.array([0.0, 1, 2, 3, 4]), 999,
                                                   np.random.default_rng(0))
    # Five seeds against five on one task: the exact floor 2 / C(10, 5), not the bootstrap's 2 / 1000.
    assert better.estimate == 1.0 and better.p_value == pytest.approx(2 / 252)
    tied = stats.probability_of_improvement_test(np.array([0.0, 2, 4, 6]), np.array([1.0, 3, 5, 7]), 999,
                                                 np.random.default_rng(0))
    assert tied.low < 0.5 < tied.high and tied.p_value > 0.05


@pytest.mark.parametrize("seed", range(6))
def test_one_tasks_permutation_p_is_the_exact_mann_whitney_test(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(5, 1)).round(1), rng.normal(0.8, size=(6, 1)).round(1)  # ties included
    test = stats.probability_of_improvement_test(x, y, 200, np.random.default_rng(0))
    if len(np.unique(np.concatenate([x, y]))) == 11:  # scipy's exact method assumes no ties
        expected = scipy_stats.mannwhitneyu(x[:, 0], y[:, 0], method="exact").pvalue
    else:
        expected = scipy_stats.permutation_test((x[:, 0], y[:, 0]), lambda a, b: scipy_stats.mannwhitneyu(a, b).statistic,
                                                permutation_type="independent", n_resamples=np.inf).pvalue
    assert test.p_value == pytest.approx(expected)


def test_many_tasks_draw_their_splits():
    # Three tasks of 5 against 5: 252^3 splits, more than PERMUTATIONS, so they are drawn; none is as
    # extreme as complete separation on every task, so p is the Monte-Carlo floor, 2 / (B + 1).
    x, y = np.tile(np.arange(5.0, 10.0)[:, None], (1, 3)), np.tile(np.arange(5.0)[:, None], (1, 3))
    test = stats.probability_of_improvement_test(x, y, 200, np.random.default_rng(0))
    assert test.p_value == pytest.approx(2 / (stats.PERMUTATIONS + 1))
    assert stats.smallest_p(5, 5, 1) == pytest.approx(2 / 252) and stats.smallest_p(5, 5, 3) == test.p_value
    # A failed run's NaN supports no claim.
    assert stats.probability_of_improvement_test(np.array([[np.nan], [1.0]]), np.array([[0.0], [0.5]]), 50,
                                                 np.random.default_rng(0)).p_value == 1.0


def test_censored_median_needs_more_than_half_solved():
    nan = float("nan")
    # 3 of 4 solved: the unsolved seed counts as +inf, so the median is (200 + 300) / 2, not 200.
    assert stats.censored_median(np.array([100.0, 200.0, 300.0, nan])) == 250.0
    assert np.isnan(stats.censored_median(np.array([100.0, 200.0, nan, nan])))  # exactly half: undefined
    assert stats.censored_median(np.array([100.0, nan, 300.0])) == 300.0
    assert np.isnan(stats.censored_median(np.array([])))


def test_holm_keeps_adjusted_p_values_monotone():
    # Sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, 1 x 0.04; the last is raised to the running maximum 0.06.
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])


def test_two_tasks_enumerate_every_split_of_each():
    # 3 seeds against 3 on two tasks: 20^2 = 400 splits, all enumerated, against an enumeration written out here.
    x = np.array([[3.0, 1.0], [5.0, 4.0], [6.0, 2.5]])
    y = np.array([[1.0, 0.5], [2.0, 3.0], [4.0, 0.0]])
    poi = stats.probability_of_improvement_test(x, y, 50, np.random.default_rng(0))
    expected = _stratified_enumeration(x, y, stats.probability_of_improvement)
    assert poi.p_value == pytest.approx(expected)
    difference = stats.bootstrap_difference(x, y, stats.iqm, 50, np.random.default_rng(0))
    assert difference.p_value == pytest.approx(_stratified_enumeration(x, y, lambda a, b: stats.iqm(a) - stats.iqm(b)))


def test_drawn_splits_estimate_the_exact_p():
    # Two tasks of 5 against 5 (63,504 splits, so 5,000 are drawn): within a few standard errors of the exact p.
    rng = np.random.default_rng(3)
    x, y = rng.normal(0.3, size=(5, 2)), rng.normal(size=(5, 2))
    exact = _stratified_enumeration(x, y, stats.probability_of_improvement)
    drawn = stats.probability_of_improvement_test(x, y, 50, np.random.default_rng(0)).p_value
    # The drawn p's standard error is about 2 sqrt(s (1 - s) / 5000) < 0.015 for a one-sided share s: 3 of them.
    assert 0.1 < exact < 0.9 and abs(drawn - exact) < 0.045
    # Many seeds: the splits are counted before any is listed (C(40, 20) would not fit in memory).
    assert stats.smallest_p(20, 20, 1) == pytest.approx(2 / (stats.PERMUTATIONS + 1))


def _stratified_enumeration(x: np.ndarray, y: np.ndarray, statistic) -> float:
    """The two-sided p of ``statistic`` over every within-task split, written out independently of ``stats``."""
    import itertools

    n, pooled = len(x), np.concatenate([x, y])
    per_task = [list(itertools.combinations(range(len(pooled)), n)) for _ in range(x.shape[1])]
    values = []
    for choice in itertools.product(*per_task):
        a = np.column_stack([pooled[list(c), t] for t, c in enumerate(choice)])
        b = np.column_stack([np.delete(pooled[:, t], list(c)) for t, c in enumerate(choice)])
        values.append(statistic(a, b))
    values, observed = np.array(values), statistic(x, y)
    share = min((values >= observed - 1e-9).mean(), (values <= observed + 1e-9).mean())
    return min(1.0, 2 * share)
