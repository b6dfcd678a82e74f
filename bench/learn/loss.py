"""The one policy-gradient loss: REINFORCE with an optional baseline and entropy bonus."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from bench.learn.config import RunConfig
from bench.learn.policy import Policy
from bench.learn.returns import discounted_returns
from bench.learn.rollout import Rollout


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

    @classmethod
    def sum(cls, parts: list["LossTerms"]) -> "LossTerms":
        """The terms of a batch from those of its column chunks (detached)."""
        if len(parts) == 1:
            return cls(*(getattr(parts[0], f.name).detach() for f in fields(cls)))
        return cls(*(sum(getattr(p, f.name).detach() for p in parts) for f in fields(cls)))

    def as_floats(self) -> dict[str, float]:
        return {
            "loss": self.total.item(),
            "policy_loss": self.policy.item(),
            "value_loss": self.value.item(),
            "entropy": self.entropy.item(),
            "baseline_mean": self.baseline.item(),
        }


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """Sum of ``values`` where ``mask``, over ``count`` (the whole batch's valid steps)."""
    return (values * mask).sum() / count


def _valid_count(rollout: Rollout) -> torch.Tensor:
    return rollout.valid.float().sum().clamp_min(1)


def column_chunks(steps: int, num_envs: int, max_rows: int | None) -> list[slice | None]:
    """How one update's loss is split over its episodes (env columns); ``None`` is the whole batch.

    A batch of ``[steps+1, num_envs]`` rows over ``max_rows`` (``Agent.max_loss_rows``)
    is cut into near-equal groups of columns that fit (one column at least), each
    with its own backward pass, so the activations kept for backward stay bounded
    whatever the episode length. The split depends only on the run's own shapes.
    """
    rows_per_column = steps + 1
    if max_rows is None or rows_per_column * num_envs <= max_rows:
        return [None]
    chunks = -(-num_envs // max(1, max_rows // rows_per_column))
    bounds = [num_envs * i // chunks for i in range(chunks + 1)]
    return [slice(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def _returns_and_baseline(rollout: Rollout, config: RunConfig, values: torch.Tensor | None,
                          running_mean: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns-to-go and the baseline subtracted from them, both ``[T, B]`` and detached."""
    steps = rollout.rewards.shape[0]
    next_values = values[1:].detach() if values is not None else torch.zeros_like(rollout.rewards)
    returns = discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, next_values, config.gamma)
    if values is not None:
        return returns, values[:steps].detach()
    return returns, running_mean.expand_as(returns) if running_mean is not None else torch.zeros_like(returns)


def _moments(advantages: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = _masked_mean(advantages, mask, count)
    return mean, _masked_mean((advantages - mean) ** 2, mask, count).sqrt()


def advantage_moments(policy: Policy, rollout: Rollout, config: RunConfig,
                      running_mean: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the whole batch's advantages, without gradients.

    A split update (``column_chunks``) computes them once and normalises every
    part with them, so the parts add up to the one-pass loss.
    """
    with torch.no_grad():
        values = policy.critic(rollout.obs, rollout.is_init) if policy.critic is not None else None
        returns, baseline = _returns_and_baseline(rollout, config, values, running_mean)
        return _moments(returns - baseline, rollout.valid.float(), _valid_count(rollout))


def policy_gradient_loss(
    policy: Policy, rollout: Rollout, config: RunConfig, running_mean: torch.Tensor | None = None,
    columns: slice | None = None, moments: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> LossTerms:
    """Recompute the batch with the current weights and build the loss.

    The sequence is replayed from the episode start (``is_init`` at t = 0), so
    recurrent agents see exactly what they saw while acting. ``running_mean`` is
    the running-mean baseline's current value (``baseline="running_mean"``).
    ``columns`` (from ``column_chunks``) restricts the loss to some episodes,
    scaled to the whole batch: the terms of a partition of the columns sum to
    the whole batch's loss. With ``normalize_returns``, ``moments`` are the whole
    batch's (``advantage_moments``; computed here when not given). No
    Python-side reads of tensor values: the function runs under ``torch.func.vmap``.
    """
    count = _valid_count(rollout)
    part = rollout if columns is None else rollout.columns(columns)
    steps, batch = part.rewards.shape
    state = policy.initial_state(batch, part.obs.device)
    features, _ = policy.agent(part.obs, part.is_init, state)  # [T+1, B, F]
    dist = policy.action_head(features[:steps])
    log_prob = dist.log_prob(part.actions)  # [T, B]
    entropy = dist.entropy()  # [T, B]
    mask = part.valid.float()

    values = policy.critic(part.obs, part.is_init) if policy.critic is not None else None  # [T+1, B]
    returns, baseline = _returns_and_baseline(part, config, values, running_mean)
    if values is not None:
        value_loss = _masked_mean((values[:steps] - returns) ** 2, mask, count)
    else:
        value_loss = torch.zeros((), device=returns.device)
    advantages = returns - baseline
    if config.normalize_returns:
        if moments is None:
            moments = (_moments(advantages, mask, count) if columns is None
                       else advantage_moments(policy, rollout, config, running_mean))
        mean, std = moments
        advantages = (advantages - mean) / (std + 1e-8)
    policy_loss = -_masked_mean(advantages.detach() * log_prob, mask, count)
    mean_entropy = _masked_mean(entropy, mask, count)
    total = policy_loss - config.entropy_coef * mean_entropy + config.value_coef * value_loss
    return LossTerms(total, policy_loss, value_loss, mean_entropy, _masked_mean(baseline, mask, count),
                     _masked_mean(returns, mask, count).detach())
