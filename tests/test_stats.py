"""Statistics on arrays small enough to work out by hand, and a cross-check against rliable."""

from __future__ import annotations

import numpy as np
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
