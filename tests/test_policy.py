"""The policy's parts: the critic's clock (``critic_time``) and its memory (``critic_memory``)."""

import gymnasium as gym
import pytest
import torch

from agents.gru import GRUAgent
from agents.mlp import MLPAgent
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
        return policy.value(obs, is_init)[:, 0]


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


def _episode_pair(first_obs: float) -> tuple[torch.Tensor, torch.Tensor]:
    """obs [5, 1, 3]: an episode of 3 steps whose first observation is ``first_obs``, then one of 2 steps."""
    obs = torch.zeros(5, 1, 3)
    obs[0] = first_obs
    is_init = torch.zeros(5, 1, dtype=torch.bool)
    is_init[0] = is_init[3] = True
    return obs, is_init


def test_the_critic_of_a_memory_agent_reads_the_actors_features_and_remembers_only_its_episode():
    torch.manual_seed(0)
    policy = build_policy(RunConfig(agent="gru", baseline="critic", hidden_size=8), SPACE, ACTIONS)
    assert policy.critic.reads_actor and isinstance(policy.critic.agent, MLPAgent)
    assert policy.critic.agent.obs_dim == 3 + 8  # the observation and the actor's features
    with torch.no_grad():
        values = [policy.value(*_episode_pair(first))[:, 0] for first in (0.0, 1.0)]
    # Step 2 of the first episode sees the same observation in both batches: only the actor's memory of
    # step 0 tells them apart. The second episode starts from a reset actor: nothing leaks into it.
    assert abs(float(values[0][2] - values[1][2])) > 1e-4
    assert torch.equal(values[0][3:], values[1][3:])


def test_the_critics_loss_does_not_reach_the_actor():
    torch.manual_seed(0)
    policy = build_policy(RunConfig(agent="gru", baseline="critic", hidden_size=8), SPACE, ACTIONS)
    obs, is_init = _episode_pair(1.0)
    policy.value(obs, is_init).square().sum().backward()
    assert all(p.grad is None for p in policy.agent.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.critic.parameters())


def test_a_critic_with_its_own_memory_is_a_second_torso_of_the_variant():
    policy = build_policy(RunConfig(agent="gru", baseline="critic", hidden_size=8, critic_memory="own"), SPACE, ACTIONS)
    assert not policy.critic.reads_actor and isinstance(policy.critic.agent, GRUAgent)
    assert policy.actor_features(*_episode_pair(1.0)) is None
    with pytest.raises(ValueError, match="does not read the actor's features"):
        policy.critic(*_episode_pair(1.0), torch.zeros(5, 1, 8))


def test_a_memoryless_agent_has_the_same_critic_either_way():
    # The same network, built in the same order from the same seed: mlp runs do not depend on critic_memory.
    built = []
    for memory in ("actor", "own"):
        torch.manual_seed(0)
        built.append(build_policy(RunConfig(agent="mlp", baseline="critic", hidden_size=8, critic_memory=memory),
                                  SPACE, ACTIONS).state_dict())
    assert list(built[0]) == list(built[1])
    assert all(torch.equal(built[0][name], built[1][name]) for name in built[0])
