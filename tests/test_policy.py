"""The policy's parts: the critic's clock (``critic_time``)."""

import gymnasium as gym
import pytest
import torch

from bench.learn.config import RunConfig
from bench.learn.policy import build_policy

SPACE, ACTIONS = gym.spaces.Box(-1.0, 1.0, (3,)), gym.spaces.Discrete(2)


def _values_of_one_observation_repeated(config: RunConfig) -> torch.Tensor:
    """The critic's values [T] of the same observation at steps 0..T-1 of an episode."""
    torch.manual_seed(0)
    policy = build_policy(config, SPACE, ACTIONS, time_limit=10)
    obs = torch.ones(6, 1, 3)
    is_init = torch.zeros(6, 1, dtype=torch.bool)
    is_init[0] = True
    with torch.no_grad():
        return policy.critic(obs, is_init)[:, 0]


def test_the_critic_reads_the_elapsed_time_and_the_actor_does_not():
    config = RunConfig(agent="mlp", baseline="critic", hidden_size=8, critic_time=True)
    values = _values_of_one_observation_repeated(config)
    assert torch.unique(values).numel() == 6  # one observation, six steps, six values
    torch.manual_seed(0)
    policy = build_policy(config, SPACE, ACTIONS, time_limit=10)
    assert policy.agent.obs_dim == 3 and policy.critic.agent.obs_dim == 4


def test_a_critic_blind_to_the_time_gives_one_observation_one_value():
    values = _values_of_one_observation_repeated(RunConfig(agent="mlp", baseline="critic", hidden_size=8,
                                                           critic_time=False))
    assert torch.equal(values, values[:1].expand(6))


def test_a_critic_that_reads_the_time_needs_the_time_limit():
    with pytest.raises(ValueError, match="time_limit"):
        build_policy(RunConfig(baseline="critic", critic_time=True), SPACE, ACTIONS)
    assert build_policy(RunConfig(baseline="critic"), SPACE, ACTIONS).critic.time_limit is None  # blind by default
    assert build_policy(RunConfig(baseline="none"), SPACE, ACTIONS).critic is None
