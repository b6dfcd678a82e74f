"""Discounted returns-to-go that never cross an episode boundary.

Time-limit truncation (``truncated[t]``): the episode was cut, not ended, so the
return continues past the cut in expectation. ``discounted_returns`` bootstraps
there with the given ``next_values``: the critic's targets pass ``V(s_{t+1})`` of
the final observation, the policy's returns pass zeros for every baseline (the
capped return that the benchmark scores; ``bench.learn.loss``).
"""

from __future__ import annotations

import torch


def discounted_returns(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    next_values: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Returns-to-go ``G_t = r_t + gamma * G_{t+1}``, reset at every episode end.

    Args:
        rewards: ``[T, B]``.
        terminated: ``[T, B]`` bool, the episode ended at step t (no bootstrap).
        truncated: ``[T, B]`` bool, the episode was cut at step t (bootstrap).
        next_values: ``[T, B]``, value of the observation after step t; used where
            ``truncated`` and at ``t = T-1`` for an episode still running at the
            end of the rollout. Pass zeros to bootstrap with nothing.
        gamma: discount in ``[0, 1]``.

    Returns:
        ``[T, B]`` returns-to-go.
    """
    steps = rewards.shape[0]
    returns = torch.empty_like(rewards)
    running = next_values[-1]
    for t in range(steps - 1, -1, -1):
        # At an episode end the future belongs to another episode: replace it by
        # the bootstrap value (truncation) or nothing (termination wins).
        running = torch.where(truncated[t], next_values[t], running)
        running = torch.where(terminated[t], torch.zeros_like(running), running)
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def generalized_advantages(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    values: torch.Tensor,
    gamma: float,
    lam: float,
) -> torch.Tensor:
    """GAE(lambda) advantages (Schulman et al., 2016, "High-dimensional continuous control
    using generalized advantage estimation", eq. 16), reset at every episode end.

    ``A_t = delta_t + gamma * lam * A_{t+1}`` with ``delta_t = r_t + gamma * V(s_{t+1}) - V(s_t)``;
    the value after an episode end (terminated or truncated) is 0, as in
    ``discounted_returns`` with zero bootstrap, so ``lam = 1`` gives exactly
    ``G_t - V(s_t)``.

    Args:
        rewards, terminated, truncated: ``[T, B]``.
        values: ``[T+1, B]``, ``V`` of every observation (``values[t]`` before step t).
        gamma: discount in ``[0, 1]``; lam: in ``[0, 1]``.

    Returns:
        ``[T, B]`` advantages.
    """
    steps = rewards.shape[0]
    ended = terminated | truncated
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(values[-1])
    for t in range(steps - 1, -1, -1):
        next_value = torch.where(ended[t], torch.zeros_like(running), values[t + 1])
        running = torch.where(ended[t], torch.zeros_like(running), running)
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
    return advantages
