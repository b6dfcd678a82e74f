"""Environments: gymnasium's checker, reference scores, partial observability, CueRecall."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from bench import envs

CUSTOM = ["CartPole-P", "Pendulum-P", "DigitMatch-10", "DigitMatch-100", "GaussianTarget", "CueRecall"]


@pytest.mark.parametrize("env_id", CUSTOM)
def test_custom_environments_pass_the_gymnasium_checker(env_id):
    # The checker wants the environment as its entry point builds it, unwrapped by gym.make.
    spec = gym.spec(env_id)
    check_env(spec.entry_point(**spec.kwargs), skip_render_check=True)


def _random_score(env_id: str, episodes: int) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    total = 0.0
    for episode in range(episodes):
        env.reset(seed=episode)
        done, score = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            score += float(reward)
            done = terminated or truncated
        total += score
    return total / episodes


@pytest.mark.parametrize("env_id, episodes, tolerance", [
    ("DigitMatch-10", 4000, 0.1), ("DigitMatch-100", 4000, 0.8), ("GaussianTarget", 4000, 1.5),
    ("CueRecall", 4000, 0.03), ("CartPole-v1", 1000, 1.0), ("CartPole-P", 1000, 1.0),
])
def test_stored_random_scores_match_a_measured_random_policy(env_id, episodes, tolerance):
    assert _random_score(env_id, episodes) == pytest.approx(envs.spec_for(env_id).random_score, abs=tolerance)


def test_partially_observable_variants_hide_velocities():
    full, partial = gym.make("CartPole-v1"), gym.make("CartPole-P")
    full_obs, _ = full.reset(seed=3)
    partial_obs, _ = partial.reset(seed=3)
    np.testing.assert_array_equal(partial_obs, full_obs[[0, 2]])
    assert gym.make("Pendulum-P").observation_space.shape == (2,)


def test_cartpole_p_vector_entry_point_masks_the_native_vector_env():
    partial, full = gym.make_vec("CartPole-P", num_envs=3), gym.make_vec("CartPole-v1", num_envs=3)
    partial_obs, _ = partial.reset(seed=5)
    full_obs, _ = full.reset(seed=5)
    for _ in range(30):
        np.testing.assert_array_equal(partial_obs, full_obs[:, [0, 2]])
        partial_obs, *_ = partial.step(np.array([0, 1, 1]))
        full_obs, *_ = full.step(np.array([0, 1, 1]))
    assert partial.single_observation_space.shape == (2,)


def test_cue_recall_rewards_only_the_cue_named_at_the_query():
    env = gym.make("CueRecall").unwrapped
    obs, _ = env.reset(seed=0)
    cue = int(np.argmax(obs[:-1]))
    rewards, query_seen = [], False
    for _ in range(env.delay + 1):
        query_seen = bool(obs[-1])
        obs, reward, terminated, _, _ = env.step(cue)
        rewards.append(reward)
        assert obs[:-1].sum() == 0  # the cue is never shown again
    assert terminated and query_seen and rewards == [0.0] * env.delay + [1.0]


def test_memoryless_policy_cannot_beat_chance_on_cue_recall():
    # Every observation after the first is the same for all cues, so any
    # memoryless answer at the query is right for exactly one cue in four.
    env = gym.make("CueRecall").unwrapped
    best = 0.0
    for answer in range(env.n_cues):
        wins = 0
        for seed in range(400):
            env.reset(seed=seed)
            for _ in range(env.delay + 1):
                _, reward, _, _, _ = env.step(answer)
            wins += reward
        best = max(best, wins / 400)
    assert best < 0.32


def test_unknown_environment_lists_the_choices():
    with pytest.raises(KeyError, match="valid choices: CartPole-v1"):
        envs.spec_for("CartPole-v9000")


def test_any_registered_gymnasium_id_is_accepted():
    spec = envs.spec_for("MountainCar-v0")
    assert spec.family == "other" and spec.success_score == -110.0
