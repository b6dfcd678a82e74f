"""Discounted returns-to-go that never cross an episode boundary.

Time-limit truncation (``truncated[t]``): the episode was cut, not ended, so the
return continues past the cut in expectation. ``discounted_returns`` bootstraps
there with the given ``next_values``. The policy's returns pass zeros for every
baseline (the capped return that the benchmark scores; ``bench.learn.loss``), and so
do the critic's targets when it reads the elapsed time (``critic_time``); a critic
blind to the time passes ``V(s_{t+1})`` of the final observation.
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
    # At an episode end the future belongs to another episode: replace it by the
    # bootstrap value (truncation) or nothing (termination wins). Selected for every
    # step at once, so the loop over time does two operations per step.
    ended = (terminated | truncated).unbind(0)
    restart = torch.where(terminated, torch.zeros_like(next_values), next_values).unbind(0)
    step_rewards = rewards.unbind(0)
    running = next_values[-1]
    returns = []
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = step_rewards[t] + gamma * torch.where(ended[t], restart[t], running)
        returns.append(running)
    return torch.stack(returns[::-1]) if returns else torch.empty_like(rewards)


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
    ended = terminated | truncated
    zeros = torch.zeros_like(rewards)
    # The TD errors of every step at once (elementwise, so rounded as one step at a time).
    deltas = (rewards + gamma * torch.where(ended, zeros, values[1:]) - values[:-1]).unbind(0)
    ended_at, zero = ended.unbind(0), zeros[0]
    running = zero
    advantages = []
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * torch.where(ended_at[t], zero, running)
        advantages.append(running)
    return torch.stack(advantages[::-1]) if advantages else torch.empty_like(rewards)
