"""Torch-native environments against their gymnasium references, transition by transition."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from bench import envs  # noqa: F401  (registers the custom ids)
from bench.envs.torch_native import TORCH_NATIVE_IDS, make_torch_env

TRANSITIONS = 10_000
BATCH = 16
TOLERANCE = 1e-5


def reference_state(env: gym.Env) -> np.ndarray:
    """The internal state of a gymnasium reference environment, in this module's layout."""
    core = env.unwrapped
    if hasattr(core, "_digit"):
        return np.array([core._digit], dtype=np.float64)
    if hasattr(core, "_cue"):
        return np.array([core._cue, core._t], dtype=np.float64)
    if type(core).__name__ == "GaussianTargetEnv":
        return np.zeros(1)
    return np.asarray(core.state, dtype=np.float64)


def _actions(env_id: str, space: gym.Space, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random actions, except on the swing-up tasks, where pumping energy reaches the goal in half
    of the batch (so that both terminations and time-limit truncations are compared)."""
    count = len(state)
    # The first half of the batch pumps (80 % of the time), the second half acts at random.
    explore = (rng.random(count) < 0.2) | (np.arange(count) >= count // 2)
    if env_id == "Acrobot-v1":
        pump = np.where(state[:, 3] > 0, 2, 0)  # torque along the second joint's velocity
        return np.where(explore, rng.integers(0, 3, size=count), pump)
    if env_id == "MountainCarContinuous-v0":
        pump = np.where(state[:, 1] >= 0, 1.0, -1.0)[:, None]
        noise = rng.uniform(-1.3, 1.3, size=(count, 1)).astype(np.float32)
        return np.where(explore[:, None], noise, pump).astype(np.float32)
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(0, space.n, size=count)
    # Beyond the box on purpose: both sides must clip the same way.
    span = space.high - space.low
    return rng.uniform(space.low - 0.2 * span, space.high + 0.2 * span, size=(count, *space.shape)).astype(np.float32)


@pytest.mark.parametrize("env_id", TORCH_NATIVE_IDS)
def test_torch_native_matches_gymnasium_from_identical_states(env_id):
    native = make_torch_env(env_id)
    references = [gym.make(env_id) for _ in range(BATCH)]
    for index, env in enumerate(references):
        env.reset(seed=index)
        env.action_space.seed(index)
    assert native.observation_space.shape == references[0].observation_space.shape
    assert native.action_space == references[0].action_space
    elapsed = np.zeros(BATCH, dtype=int)
    rng = np.random.default_rng(0)
    ends = {"terminated": 0, "truncated": 0}
    # At least 10,000 transitions, and long enough for every environment to reach its time limit.
    for _ in range(max(TRANSITIONS // BATCH, native.max_episode_steps + 1)):
        state = torch.as_tensor(np.stack([reference_state(env) for env in references]))
        actions = _actions(env_id, native.action_space, state.numpy(), rng)
        next_state, reward, terminated = native.step(state, torch.as_tensor(actions))
        observation = native.observe(next_state).numpy()
        truncated = (elapsed + 1 >= native.max_episode_steps) & ~terminated.numpy()
        for b, env in enumerate(references):
            obs_ref, reward_ref, term_ref, trunc_ref, _ = env.step(actions[b])
            np.testing.assert_allclose(observation[b], obs_ref, rtol=TOLERANCE, atol=TOLERANCE)
            assert reward[b].item() == pytest.approx(float(reward_ref), rel=TOLERANCE, abs=TOLERANCE)
            assert bool(terminated[b]) == term_ref and bool(truncated[b]) == trunc_ref
            elapsed[b] += 1
            if term_ref or trunc_ref:
                ends["terminated"] += term_ref
                ends["truncated"] += trunc_ref
                env.reset()
                elapsed[b] = 0
    # The comparison covered episode ends of the kinds this task has.
    if env_id in ("Pendulum-v1", "Pendulum-P", "Acrobot-v1", "MountainCarContinuous-v0"):
        assert ends["truncated"] > 0
    if env_id not in ("Pendulum-v1", "Pendulum-P"):
        assert ends["terminated"] > 0


def test_reset_states_follow_the_reference_distributions():
    native = make_torch_env("CartPole-v1")
    start = native.reset_state(torch.rand(10_000, native.reset_draws, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    assert start.abs().max() <= 0.05 and start.abs().max() > 0.049
    pendulum = make_torch_env("Pendulum-v1").reset_state(torch.rand(10_000, 2, dtype=torch.float64))
    assert pendulum[:, 0].abs().max() <= np.pi and pendulum[:, 1].abs().max() <= 1.0


@pytest.mark.parametrize("env_id", TORCH_NATIVE_IDS)
def test_both_backends_give_the_critics_clock_the_same_time_limit(env_id):
    # The critic reads t / time limit: a task that ends by itself at a fixed step and has no
    # gymnasium time limit (CueRecall, the one-step tasks) must not fall back to 1000 on one backend.
    from bench.envs.vector import time_limit

    assert time_limit(env_id) == make_torch_env(env_id).max_episode_steps
