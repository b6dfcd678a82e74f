"""Symptoms of degenerate runs (bench/learn/symptoms.py), on hand-made update rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.learn.symptoms import COLLAPSED, degenerate_run_warnings, late_explained_variance, learned_then_lost


def _rows(**columns):
    count = len(next(iter(columns.values())))
    base = {"policy_loss": [0.1] * count, "grad_norm": [1.0] * count, "entropy": [0.6] * count,
            "explained_variance": [0.5] * count}
    base.update(columns)
    return [dict(zip(base, values)) for values in zip(*base.values())]


def test_a_healthy_run_has_no_warnings():
    assert degenerate_run_warnings(_rows(policy_loss=[0.1, 0.0, 0.2, -0.1])) == []


def test_degenerate_runs_are_named_by_symptom():
    assert "policy loss is exactly 0" in " ".join(degenerate_run_warnings(_rows(policy_loss=[0.0, 0.0, 0.0, 0.3])))
    assert "gradient is exactly 0" in " ".join(degenerate_run_warnings(_rows(grad_norm=[0.0] * 4)))
    assert "entropy collapsed" in " ".join(degenerate_run_warnings(_rows(entropy=[1e-5, 0.0, 0.0, 0.0])))
    assert "critic explains none" in " ".join(degenerate_run_warnings(
        _rows(explained_variance=[0.3] * 30 + [-0.5, -0.1] * 5)))
    # Targets that stopped varying (a solved task) say nothing about the critic: not flagged.
    solved = _rows(explained_variance=[0.3] * 30 + [-5.0] * 10, target_std=[20.0] * 30 + [0.5] * 10)
    assert degenerate_run_warnings(solved) == []
    varied = _rows(explained_variance=[0.3] * 30 + [-5.0] * 10, target_std=[20.0] * 30 + [10.0] * 10)
    (warning,) = degenerate_run_warnings(varied)
    assert "critic explains none" in warning and "it is not fitting" in warning
    assert "or its targets vary by chance that no state predicts" in warning  # the other cause, said with it
    # On a one-step task (every episode 1 step) no state value can explain the sampled action's reward.
    bandit = _rows(explained_variance=[0.0] * 30 + [-0.2] * 10, length_mean=[1.0] * 40)
    assert degenerate_run_warnings(bandit) == []
    longer = _rows(explained_variance=[0.0] * 30 + [-0.2] * 10, length_mean=[1.0] * 39 + [2.0])
    assert "critic explains none" in " ".join(degenerate_run_warnings(longer))
    # A short run (fewer than 40 updates) is too short to judge its critic.
    assert degenerate_run_warnings(_rows(explained_variance=[0.3, 0.2, -0.5, -0.1])) == []
    # One batch of nearly equal targets with a huge ratio does not outweigh nine good ones.
    outlier = _rows(explained_variance=[0.3] * 30 + [0.8] * 9 + [-70.0], target_std=[1.0] * 39 + [0.2])
    assert degenerate_run_warnings(outlier) == []
    # Solved early: the targets are still for most of the run, the early spread is the reference.
    early = _rows(explained_variance=[0.3] * 10 + [-5.0] * 30, target_std=[20.0] * 10 + [0.5] * 30)
    assert degenerate_run_warnings(early) == []
    assert "sits at its high action bound in 75%" in " ".join(degenerate_run_warnings(
        _rows(mean_at_high=[0.95, 1.0, 0.99, 0.2], mean_at_low=[0.0] * 4)))


def test_late_explained_variance_is_pooled_over_the_last_quarter():
    table = pd.DataFrame({"explained_variance": [0.0] * 6 + [0.5, -1.0], "target_std": [1.0] * 6 + [2.0, 1.0]})
    # 1 - (0.5 * 4 + 2.0 * 1) / (4 + 1)
    assert late_explained_variance(table) == pytest.approx(0.2)


def test_a_bang_bang_controller_using_both_bounds_is_not_stuck():
    # CartPole's force pushed to -1 in half the states and +1 in the other half: healthy.
    assert degenerate_run_warnings(_rows(mean_at_low=[0.5] * 4, mean_at_high=[0.5] * 4)) == []


def _noisy(levels: list[float], noise: float, seed: int = 0) -> pd.Series:
    """A training return per update: the levels plus Gaussian noise (the batch's sampling noise)."""
    return pd.Series(np.asarray(levels) + np.random.default_rng(seed).normal(0.0, noise, len(levels)))


def test_a_run_that_learned_and_then_lost_it_is_named():
    # GaussianTarget with a state-dependent std (session 14, seed 1): up from -4.5 to near 0, then down to -96.
    collapsed = _noisy([-5.0] * 100 + [-0.1] * 600 + [-100.0] * 300, 0.5)
    warning = learned_then_lost(collapsed)
    assert warning is not None and COLLAPSED in warning and "rose from -4.96" in warning
    # Its rows carry it among the run's warnings.
    rows = [{"policy_loss": 0.1, "grad_norm": 1.0, "entropy": 0.6, "return_mean": r} for r in collapsed]
    assert any(COLLAPSED in w for w in degenerate_run_warnings(rows))


@pytest.mark.parametrize("levels, noise", [
    ([0.25] * 900, 0.11),                       # a memoryless policy at chance on CueRecall: noise only
    ([20.0] * 50 + [500.0] * 50, 5.0),          # learned and kept it
    ([20.0] * 30 + [300.0] * 40 + [200.0] * 30, 5.0),  # lost a third of its gain: a dip, not a collapse
])
def test_noise_a_kept_gain_or_a_partial_dip_is_not_a_collapse(levels, noise):
    assert learned_then_lost(_noisy(levels, noise)) is None
    assert learned_then_lost(pd.Series([1.0, 2.0])) is None  # too short to judge
