"""The one policy-gradient loss: REINFORCE with an optional baseline and entropy bonus."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.config import RunConfig
from bench.policy import Policy
from bench.returns import discounted_returns
from bench.rollout import Rollout


class RunningMeanBaseline:
    """Exponential moving average of returns-to-go (seed thread 003), bias-corrected.

    The advantage of a batch uses the mean *before* the batch is folded in, so
    the baseline never depends on the actions it scores. The state is a pair of
    tensors of any shape (``[]`` for one run, ``[S]`` for S seeds at once).
    """

    def __init__(self, rate: float, shape: tuple[int, ...] = (), device: torch.device | str = "cpu") -> None:
        self.rate = rate
        self._average = torch.zeros(shape, device=device)
        self._weight = torch.zeros(shape, device=device)  # sum of EMA weights, for the bias correction

    @property
    def value(self) -> torch.Tensor:
        return torch.where(self._weight > 0, self._average / self._weight.clamp_min(1e-30), 0.0)

    def update(self, batch_mean: torch.Tensor, where: torch.Tensor | bool = True) -> None:
        """Fold in ``batch_mean`` (same shape as the state) where ``where`` is true."""
        where = torch.as_tensor(where, device=self._average.device)
        average = (1 - self.rate) * self._average + self.rate * batch_mean.detach()
        weight = (1 - self.rate) * self._weight + self.rate
        self._average = torch.where(where, average, self._average)
        self._weight = torch.where(where, weight, self._weight)


@dataclass
class LossTerms:
    """Scalar terms of one update; ``total`` is what is differentiated."""

    total: torch.Tensor
    policy: torch.Tensor
    value: torch.Tensor
    entropy: torch.Tensor
    baseline: torch.Tensor  # mean baseline subtracted (for the log)
    return_mean: torch.Tensor  # mean return-to-go of the batch (feeds the running-mean baseline)

    def as_floats(self) -> dict[str, float]:
        return {
            "loss": self.total.item(),
            "policy_loss": self.policy.item(),
            "value_loss": self.value.item(),
            "entropy": self.entropy.item(),
            "baseline_mean": self.baseline.item(),
        }


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp_min(1)


def policy_gradient_loss(
    policy: Policy, rollout: Rollout, config: RunConfig, running_mean: torch.Tensor | None = None
) -> LossTerms:
    """Recompute the batch with the current weights and build the loss.

    The sequence is replayed from the episode start (``is_init`` at t = 0), so
    recurrent agents see exactly what they saw while acting. ``running_mean`` is
    the running-mean baseline's current value (``baseline="running_mean"``). No
    Python-side reads of tensor values: the function runs under ``torch.func.vmap``.
    """
    steps, batch = rollout.rewards.shape
    state = policy.initial_state(batch, rollout.obs.device)
    features, _ = policy.agent(rollout.obs, rollout.is_init, state)  # [T+1, B, F]
    dist = policy.action_head(features[:steps])
    log_prob = dist.log_prob(rollout.actions)  # [T, B]
    entropy = dist.entropy()  # [T, B]
    mask = rollout.valid.float()

    if policy.critic is not None:
        values = policy.critic(rollout.obs, rollout.is_init)  # [T+1, B]
        next_values = values[1:].detach()
    else:
        values = None
        next_values = torch.zeros_like(rollout.rewards)
    returns = discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, next_values, config.gamma)

    if values is not None:
        baseline = values[:steps].detach()
        value_loss = _masked_mean((values[:steps] - returns) ** 2, mask)
    else:
        value_loss = torch.zeros((), device=returns.device)
        baseline = running_mean.expand_as(returns) if running_mean is not None else torch.zeros_like(returns)
    advantages = returns - baseline
    if config.normalize_returns:
        mean = _masked_mean(advantages, mask)
        std = _masked_mean((advantages - mean) ** 2, mask).sqrt()
        advantages = (advantages - mean) / (std + 1e-8)
    policy_loss = -_masked_mean(advantages.detach() * log_prob, mask)
    mean_entropy = _masked_mean(entropy, mask)
    total = policy_loss - config.entropy_coef * mean_entropy + config.value_coef * value_loss
    return LossTerms(total, policy_loss, value_loss, mean_entropy, _masked_mean(baseline, mask),
                     _masked_mean(returns, mask).detach())
