"""Training: bit-for-bit reproducibility, divergence handling, and learning at fixed seeds."""

from __future__ import annotations

import math
import statistics

import pandas as pd
import pytest
import torch

from bench.learn.config import RunConfig, validate
from bench.learn.train import TIMING_COLUMNS, TrainingDiverged, train


def _learning(metrics: pd.DataFrame) -> pd.DataFrame:
    return metrics.drop(columns=list(TIMING_COLUMNS))


def _final(config: RunConfig) -> dict:
    return train(validate(config)).info


def test_same_seed_gives_identical_metrics_bit_for_bit():
    config = RunConfig(env="CartPole-P", agent="gru", steps=3000, seed=11)
    first, second = train(config), train(config)
    pd.testing.assert_frame_equal(_learning(first.metrics), _learning(second.metrics), check_exact=True)
    assert first.info["final_score"] == second.info["final_score"]


@pytest.mark.parametrize("agent", ["mlp", "gru"])
def test_copying_only_changed_tensors_into_the_module_trains_as_copying_all(monkeypatch, agent):
    # The learner skips the copies of tensors it already holds (the actor's, during the critic's
    # steps); a learner that copies every tensor at every step must train bit for bit the same.
    from bench.learn import train as train_module

    config = RunConfig(env="CartPole-v1", agent=agent, steps=4000, seed=5, normalize_returns=True)
    skipping = train(config)

    class CopyingAll(train_module.GymLearner):
        @train_module.GymLearner.params.setter
        def params(self, value):
            self._params = value
            with torch.no_grad():
                for name, p in self.policy.named_parameters():
                    p.copy_(value[name][0])

    monkeypatch.setattr(train_module, "GymLearner", CopyingAll)
    pd.testing.assert_frame_equal(_learning(skipping.metrics), _learning(train(config).metrics), check_exact=True)


def test_different_seeds_give_different_metrics():
    first = train(RunConfig(env="CartPole-v1", agent="mlp", steps=3000, seed=1)).metrics
    second = train(RunConfig(env="CartPole-v1", agent="mlp", steps=3000, seed=2)).metrics
    assert not first["return_mean"].equals(second["return_mean"])


def test_global_rng_state_does_not_change_results():
    config = RunConfig(env="DigitMatch-10", agent="mlp", steps=800, seed=5)
    first = train(config).metrics
    torch.manual_seed(999)
    _ = torch.rand(100)
    second = train(config).metrics
    pd.testing.assert_frame_equal(_learning(first), _learning(second), check_exact=True)


def test_metrics_have_one_row_per_update_and_a_final_evaluation():
    result = train(RunConfig(env="CartPole-v1", agent="mlp", steps=2000, seed=0))
    train_rows = result.metrics[result.metrics.phase == "train"]
    assert list(train_rows["update"]) == list(range(len(train_rows)))
    assert train_rows["env_steps"].is_monotonic_increasing and train_rows["env_steps"].iloc[-1] >= 2000
    evaluation = result.metrics[result.metrics.phase == "eval"]
    assert len(evaluation) == 1 and evaluation["episodes"].iloc[0] == 32
    for column in ("loss", "policy_loss", "value_loss", "entropy", "grad_norm", "return_mean", "success_rate"):
        assert column in result.metrics
    info = result.info
    assert info["final_score"] == evaluation["return_mean"].iloc[0]
    assert set(info["versions"]) == {"python", "torch", "gymnasium", "numpy"}
    assert info["device"] == "cpu" and info["steps_per_second"] > 0


def test_divergence_fails_loudly_with_update_and_term():
    # An absurd learning rate drives a continuous policy to NaN quickly.
    config = RunConfig(env="GaussianTarget", agent="mlp", steps=20_000, lr=1e30, value_lr=1e30, max_grad_norm=0, seed=0)
    with pytest.raises(TrainingDiverged, match=r"update \d+: \w+ is (nan|inf|-inf)"):
        train(config)


# Learning checks: fixed seeds, generous but real thresholds.

def test_mlp_with_critic_solves_cartpole():
    info = _final(RunConfig(env="CartPole-v1", agent="mlp", baseline="critic", steps=150_000, seed=0))
    assert info["final_score"] >= 475


def test_gru_clearly_beats_mlp_on_partially_observable_cartpole():
    gru = _final(RunConfig(env="CartPole-P", agent="gru", steps=250_000, seed=0))["final_score"]
    mlp = _final(RunConfig(env="CartPole-P", agent="mlp", steps=250_000, seed=0))["final_score"]
    assert gru >= 2 * mlp and gru - mlp >= 50, (gru, mlp)


def test_digit_match_10_reaches_95_percent_exact_accuracy():
    # The settings the paper trains it with: config.yaml's env_settings (64 episodes per update) and
    # the default entropy bonus (docs/evidence.md: 1.00 / 1.00 / 0.97 / 1.00 over seeds 0-3).
    info = _final(RunConfig(env="DigitMatch-10", agent="mlp", num_envs=64, steps=50_000, seed=0))
    assert info["final_success_rate"] >= 0.95


def test_gaussian_policy_learns_the_target_value():
    info = _final(RunConfig(env="GaussianTarget", agent="mlp", baseline="running_mean", steps=20_000, seed=0))
    # Evaluation takes the mean action, so the return is -(mean - 3)^2; the untrained mean
    # is 3 away. At this budget the distance is 0.003-0.18 over seeds 0-11 (0.11 for seed 0):
    # the mean still wanders with the exploration noise, so the check asks for 0.25.
    assert math.sqrt(-info["final_score"]) <= 0.25


def test_gru_remembers_the_cue_and_a_memoryless_policy_cannot():
    # The median of three seeds: at 100k steps one seed may still be learning (seed 0 at 0.84, seeds 1-4 at
    # 1.00, when the critic's value steps became valid rows only; 1.00 for seeds 0-2 before).
    gru = statistics.median(_final(RunConfig(env="CueRecall", agent="gru", steps=100_000, seed=seed))
                            ["final_success_rate"] for seed in range(3))
    mlp = train(RunConfig(env="CueRecall", agent="mlp", steps=30_000, seed=0)).metrics
    # Over the last 20 updates (320 episodes) the memoryless policy stays near chance (0.25).
    mlp_success = mlp[mlp.phase == "train"]["success_rate"].tail(20).mean()
    assert gru >= 0.9 and mlp_success <= 0.35, (gru, mlp_success)
