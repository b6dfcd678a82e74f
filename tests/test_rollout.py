"""Rollouts: one complete episode per column, masks, final observations."""

from __future__ import annotations

import torch

from bench.learn.config import RunConfig
from bench.learn.rollout import collect_episodes
from bench.learn.train import seeded_policy
from bench.envs.vector import make_env_batch


def _rollout(env_id="CartPole-v1", agent="mlp", num_envs=5, seed=7):
    envs = make_env_batch(env_id, num_envs, torch.device("cpu"))
    policy = seeded_policy(RunConfig(env=env_id, agent=agent), envs.single_observation_space, envs.single_action_space,
                           envs.time_limit, 0,
                           torch.device("cpu"))
    rollout = collect_episodes(envs, policy, torch.Generator().manual_seed(0), torch.device("cpu"), seed=seed)
    return envs, rollout


def test_each_column_is_exactly_one_episode():
    # The torch backend's collector: tests/test_seed_batch.py.
    _, rollout = _rollout()
    ended = (rollout.terminated | rollout.truncated) & rollout.valid
    assert (ended.sum(0) == 1).all()  # one end per column, inside the valid region
    lengths = rollout.lengths
    for b, length in enumerate(lengths.tolist()):
        assert rollout.valid[:length, b].all() and not rollout.valid[length:, b].any()
        assert ended[length - 1, b]
    assert rollout.obs.shape[0] == rollout.rewards.shape[0] + 1
    assert rollout.is_init[0].all() and not rollout.is_init[1:].any()


def test_cartpole_episode_returns_equal_lengths():
    _, rollout = _rollout()
    torch.testing.assert_close(rollout.episode_returns, rollout.lengths.float())


def test_final_observation_is_the_terminal_state():
    _, rollout = _rollout()
    for b, length in enumerate(rollout.lengths.tolist()):
        final = rollout.obs[length, b]
        # CartPole terminates when the pole angle or cart position leaves its bounds.
        assert abs(final[2]) > 0.2095 or abs(final[0]) > 2.4


def test_same_seed_same_rollout_and_other_seed_differs():
    _, first = _rollout(seed=3)
    _, again = _rollout(seed=3)
    _, other = _rollout(seed=4)
    torch.testing.assert_close(first.obs, again.obs, rtol=0, atol=0)
    assert first.obs.shape != other.obs.shape or not torch.equal(first.obs, other.obs)


def test_time_limit_shows_as_truncation():
    _, rollout = _rollout(env_id="Pendulum-v1", num_envs=2)
    assert rollout.lengths.tolist() == [200, 200]
    assert rollout.truncated[199].all() and not rollout.terminated.any()
