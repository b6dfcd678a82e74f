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
    """A learned state value on a torso of its own (separate weights from the actor's).

    Separate weights keep the critic's squared error, whose scale follows the
    returns, from swamping the policy gradient in a shared torso. Its torso is either

    - ``critic_memory="actor"`` (``reads_actor``): an MLP over the observation and, when the
      actor has memory, the actor's features of the same step, detached. The critic then
      remembers what the actor remembers, its value steps run no recurrence (the features are
      computed once per update), and the critic's loss never reaches the actor
      (as sb3-contrib's RecurrentPPO with ``shared_lstm``, whose value reads the LSTM's output
      without backpropagating into it). For a memoryless actor it is the MLP alone.
    - ``critic_memory="own"``: a second torso of the agent's variant, with its own memory,
      fitted through time on every value step.

    With a ``time_limit`` the torso also reads the elapsed fraction of it, ``t / time_limit``
    (one more input feature): the benchmark scores the return capped at the time
    limit, whose expectation from a state depends on the time left, a clock the
    observation does not show (Pardo et al., 2018, "Time limits in reinforcement
    learning", time-awareness). The actor does not read it, and a baseline that
    depends on time but not on the action keeps the policy gradient unbiased.
    """

    def __init__(self, agent: agents.Agent, time_limit: int | None = None, reads_actor: bool = False) -> None:
        super().__init__()
        self.agent = agent
        self.time_limit = time_limit
        self.reads_actor = reads_actor
        self.value_head = ValueHead(agent.feature_dim)

    def forward(self, obs: torch.Tensor, is_init: torch.Tensor,
                actor_features: torch.Tensor | None = None) -> torch.Tensor:
        """obs: [T, B, obs_dim], is_init: [T, B], actor_features: [T, B, F] (``reads_actor``; else None)
        -> values [T, B], from episode-start state.

        Row t of a batch is step t of its episode (every column starts one at t = 0:
        ``bench.learn.rollout``), so the clock is the row index.

        Raises:
            ValueError: ``actor_features`` missing for a critic that reads them, or given to one that does not.
        """
        state = self.agent.initial_state(obs.shape[1], obs.device)
        features, _ = self.agent(self.inputs(obs, actor_features), is_init, state)
        return self.value_head(features)

    def inputs(self, obs: torch.Tensor, actor_features: torch.Tensor | None = None) -> torch.Tensor:
        """What the torso reads, ``[T, B, in]``: the observation, the clock (``time_limit``) and the actor's
        features (``reads_actor``), in that order; ``obs: [T, B, obs_dim]``, row t being step t.

        Raises:
            ValueError: ``actor_features`` missing for a critic that reads them, or given to one that does not.
        """
        if self.reads_actor != (actor_features is not None):
            raise ValueError(f"this critic {'reads' if self.reads_actor else 'does not read'} the actor's features; "
                             f"got {'none' if actor_features is None else 'some'}")
        inputs = [obs]
        if self.time_limit is not None:
            clock = torch.arange(obs.shape[0], device=obs.device, dtype=obs.dtype) / self.time_limit
            inputs.append(clock[:, None, None].expand(obs.shape[0], obs.shape[1], 1))
        if actor_features is not None:
            inputs.append(actor_features)
        return torch.cat(inputs, dim=-1) if len(inputs) > 1 else obs

    def value_of_rows(self, inputs: torch.Tensor) -> torch.Tensor:
        """A memoryless torso's normalised values ``[N]`` of independent rows ``inputs: [N, in]`` (``inputs()``'s
        rows, in any order and number).

        Raises:
            ValueError: the torso has memory (its rows are sequences, read from the episode start).
        """
        if self.agent.has_memory:
            raise ValueError(f"a critic with memory ({type(self.agent).__name__}) reads sequences, not rows")
        # One step of N episodes, each at its start: no row can see another, whatever the torso does with state.
        is_init = torch.ones(1, inputs.shape[0], dtype=torch.bool, device=inputs.device)
        features, _ = self.agent(inputs[None], is_init, self.agent.initial_state(inputs.shape[0], inputs.device))
        return self.value_head(features)[0]


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

    def actor_features(self, obs: torch.Tensor, is_init: torch.Tensor) -> torch.Tensor | None:
        """What the critic reads of the actor: its features ``[T, B, F]`` of ``obs: [T, B, obs_dim]``
        from episode-start state, without gradients; None when the critic does not read them."""
        if self.critic is None or not self.critic.reads_actor:
            return None
        with torch.no_grad():
            features, _ = self.agent(obs, is_init, self.agent.initial_state(obs.shape[1], obs.device))
        return features.detach()

    def value(self, obs: torch.Tensor, is_init: torch.Tensor, actor_features: torch.Tensor | None = None
              ) -> torch.Tensor:
        """The critic's normalised value ``n(s)`` ``[T, B]`` of ``obs: [T, B, obs_dim]``; ``actor_features``
        (``actor_features()``'s, detached) are computed here when the critic reads them and none are given."""
        if actor_features is None:
            actor_features = self.actor_features(obs, is_init)
        return self.critic(obs, is_init, actor_features)

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
        inputs = obs_dim + (clock is not None)
        if config.critic_memory == "own":
            critic = Critic(agents.make_agent(config.agent, inputs, config.hidden_size), clock)
        else:
            reads_actor = agent.has_memory
            inputs += agent.feature_dim if reads_actor else 0
            critic = Critic(agents.make_agent("mlp", inputs, config.hidden_size), clock, reads_actor)
    return Policy(agent, action_head, critic)
