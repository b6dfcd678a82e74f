"""A policy = an agent torso + an action head (+ a value head for the critic baseline)."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Distribution

import agents
from bench.learn.config import RunConfig
from bench.learn.heads import ValueHead, head_for

# Argument validation of torch.distributions costs more than a small policy's
# forward pass on the acting hot path; heads only build valid parameters.
Distribution.set_default_validate_args(False)


@dataclass
class PolicyOutput:
    """What one actor pass over a sequence gives: ``dist`` over ``[T, B]`` and the final state."""

    dist: Distribution
    state: torch.Tensor


class Critic(nn.Module):
    """A learned state value on its own torso (same variant as the actor, separate weights).

    Separate weights keep the critic's squared error, whose scale follows the
    returns, from swamping the policy gradient in a shared torso. With a
    ``time_limit`` the torso also reads the elapsed fraction of it, ``t / time_limit``
    (one more input feature): the benchmark scores the return capped at the time
    limit, whose expectation from a state depends on the time left, a clock the
    observation does not show (Pardo et al., 2018, "Time limits in reinforcement
    learning", time-awareness). The actor does not read it, and a baseline that
    depends on time but not on the action keeps the policy gradient unbiased.
    """

    def __init__(self, agent: agents.Agent, time_limit: int | None = None) -> None:
        super().__init__()
        self.agent = agent
        self.time_limit = time_limit
        self.value_head = ValueHead(agent.feature_dim)

    def forward(self, obs: torch.Tensor, is_init: torch.Tensor) -> torch.Tensor:
        """obs: [T, B, obs_dim], is_init: [T, B] -> values [T, B], from episode-start state.

        Row t of a batch is step t of its episode (every column starts one at t = 0:
        ``bench.learn.rollout``), so the clock is the row index.
        """
        if self.time_limit is not None:
            clock = torch.arange(obs.shape[0], device=obs.device, dtype=obs.dtype) / self.time_limit
            obs = torch.cat([obs, clock[:, None, None].expand(obs.shape[0], obs.shape[1], 1)], dim=-1)
        state = self.agent.initial_state(obs.shape[1], obs.device)
        features, _ = self.agent(obs, is_init, state)
        return self.value_head(features)


class Policy(nn.Module):
    """Actor (agent torso + action head chosen from the action space) and optional critic."""

    def __init__(self, agent: agents.Agent, action_head: nn.Module, critic: Critic | None) -> None:
        super().__init__()
        self.agent = agent
        self.action_head = action_head
        self.critic = critic

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return self.agent.initial_state(batch_size, device)

    def forward(self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor) -> PolicyOutput:
        """Actor pass. obs: [T, B, obs_dim], is_init: [T, B], state: [B, ...]."""
        features, state = self.agent(obs, is_init, state)
        return PolicyOutput(self.action_head(features), state)

    def sample(self, dist: Distribution, generator: torch.Generator) -> torch.Tensor:
        return self.action_head.sample(dist, generator)

    def mode(self, dist: Distribution) -> torch.Tensor:
        return self.action_head.mode(dist)


def observation_size(space: gym.Space) -> int:
    """Flat observation size; rpg-bench agents read flat float vectors."""
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"unsupported observation space {space}; rpg-bench agents read Box observations")
    return int(torch.tensor(space.shape).prod().item()) if space.shape else 1


def build_policy(config: RunConfig, observation_space: gym.Space, action_space: gym.Space,
                 time_limit: int | None = None) -> Policy:
    """The policy for ``config`` on these (single-environment) spaces.

    ``time_limit``: the environment's longest episode (steps), which the critic's clock
    is a fraction of (``config.critic_time``).

    Raises:
        ValueError: a critic that reads the time (``critic_time``) without a ``time_limit``.
    """
    obs_dim = observation_size(observation_space)
    agent = agents.make_agent(config.agent, obs_dim, config.hidden_size)
    action_head = head_for(action_space, agent.feature_dim, config.std_mode, config.init_std)
    critic = None
    if config.baseline == "critic":
        if config.critic_time and not time_limit:
            raise ValueError("a critic that reads the time (critic_time) needs the environment's time_limit")
        clock = time_limit if config.critic_time else None
        critic = Critic(agents.make_agent(config.agent, obs_dim + (clock is not None), config.hidden_size), clock)
    return Policy(agent, action_head, critic)
