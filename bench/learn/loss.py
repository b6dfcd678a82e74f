"""The learning rule's losses: the policy gradient (REINFORCE or GAE) and the critic's fit.

Every function here is a pure function of one run's batch, so that a single
run calls it directly and a seed batch calls it under ``torch.func.vmap``: no
Python-side reads of tensor values.

The policy's returns-to-go treat an episode end as the end of the return for every
baseline, time-limit truncation included: the benchmark scores the capped return,
and the baseline ablation then compares baselines of one and the same estimator
target. (GAE with lambda < 1 bootstraps from the critic inside the episode: with
``critic_time`` its values estimate the same capped return; a critic blind to the
time estimates an uncapped one, a bias near the time limit traded for variance.)

The critic predicts its targets in
normalised units: ``V(s) = mu + sigma * n(s)`` with ``(mu, sigma)`` the moments of
the latest batch's targets, and the
value head rescaled whenever they change so that ``V`` itself is unchanged
(PopArt's output preservation: van Hasselt et al., 2016, "Learning values across
many orders of magnitude"). The critic's targets are then of unit scale whatever
the environment's returns (CartPole's reach 100, DigitMatch-100's -50). By default
it reads the observation only, and its targets bootstrap at truncation (a state's
value cannot depend on a clock the critic does not see): it fits another quantity
than the capped returns it is subtracted from. With ``critic_time`` it also reads the
elapsed time (``Critic``) and fits the policy's own capped returns-to-go: one
treatment of truncation for every baseline. It explains more of its own targets, but
lowered gru's final scores on every paired seed measured (lstm mixed; docs/evidence.md,
session 12), so it is not the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable

import torch
from torch import nn

from bench.learn.config import RunConfig
from bench.learn.policy import Policy
from bench.learn.returns import discounted_returns, generalized_advantages
from bench.learn.rollout import Rollout

#: Smallest scale of the critic's targets: a batch whose returns are all equal has std 0.
MIN_TARGET_STD = 1e-3
#: A tanh-bounded Gaussian mean this far towards a bound (a fraction of the half range) passes
#: back less than 1 % of its gradient: 1 - tanh(3)^2 = 0.0099.
SATURATED = math.tanh(3.0)


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
class PolicyTerms:
    """Scalar terms of the policy step; ``total`` is what is differentiated."""

    total: torch.Tensor
    policy: torch.Tensor
    entropy: torch.Tensor
    baseline: torch.Tensor  # mean baseline subtracted (for the log)
    return_mean: torch.Tensor  # mean return-to-go of the batch (feeds the running-mean baseline)
    mean_at_low: torch.Tensor  # fraction of steps where a Gaussian mean dim is saturated at the low bound
    mean_at_high: torch.Tensor  # ... at the high bound (both 0 for other heads)

    @classmethod
    def sum(cls, parts: list["PolicyTerms"]) -> "PolicyTerms":
        """The terms of a batch from those of its column chunks (detached)."""
        if len(parts) == 1:
            return cls(*(getattr(parts[0], f.name).detach() for f in fields(cls)))
        return cls(*(sum(getattr(p, f.name).detach() for p in parts) for f in fields(cls)))


class Bound(nn.Module):
    """``function(policy, *args)`` as a module, so that ``torch.func.functional_call`` can swap in
    other parameters (one seed's, or tensors to differentiate) under the names ``policy.*``."""

    def __init__(self, policy: Policy, function: Callable[..., Any]) -> None:
        super().__init__()
        self.policy = policy
        self.function = function

    def forward(self, *args: Any) -> Any:
        return self.function(self.policy, *args)


#: The names of ``PolicyTerms``' fields, in order (what a vmapped call returns as a tuple).
POLICY_TERMS: tuple[str, ...] = tuple(f.name for f in fields(PolicyTerms))


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


def mean_at_bounds(head: nn.Module, dist: Any, mask: torch.Tensor, count: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions of valid steps where some action dim's tanh-bounded Gaussian mean is saturated
    (``SATURATED``) at the low bound, and at the high bound; zeros for other heads.

    ``dist`` is the head's distribution over ``[T, B]``; ``mask`` ``[T, B]``. A mean stuck
    at one bound gets almost no gradient and stays there (issue "Your own agent", item 6).
    """
    if not getattr(head, "bounded", False):
        zero = torch.zeros((), device=mask.device)
        return zero, zero
    position = ((dist.base_dist.loc - head.centre) / head.half_range).detach()  # [T, B, A] in (-1, 1)
    low = _masked_mean((position <= -SATURATED).float().amax(-1), mask, count)
    high = _masked_mean((position >= SATURATED).float().amax(-1), mask, count)
    return low, high


def returns_to_go(rollout: Rollout, config: RunConfig) -> torch.Tensor:
    """Discounted returns-to-go ``[T, B]``, ending at every episode end (truncation included)."""
    return discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated,
                              torch.zeros_like(rollout.rewards), config.gamma)


def critic_targets(policy: Policy, rollout: Rollout, config: RunConfig,
                   scale: tuple[torch.Tensor, torch.Tensor], actor_features: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """What the critic is fitted to, ``[T, B]`` and detached.

    ``critic_time`` (the critic reads the elapsed time): the returns-to-go, capped at the
    time limit as the policy's. Without it: returns-to-go bootstrapped with ``V`` of the
    final observation where the time limit cut the episode, since a state's value cannot
    depend on a clock the critic does not see (Pardo et al., 2018, "Time limits in
    reinforcement learning"); any function of the state is still an unbiased baseline for
    the capped returns.
    """
    if config.critic_time:
        return returns_to_go(rollout, config)
    next_values = critic_values(policy, rollout, scale, actor_features)[1:]
    return discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, next_values, config.gamma)


def targets_and_moments(policy: Policy, rollout: Rollout, config: RunConfig, scale: tuple[torch.Tensor, torch.Tensor]
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """What the critic's steps of one update share, computed once before them: its targets ``[T, B]``,
    their mean and standard deviation (not floored) over the batch's valid steps, and the actor's
    features it reads ``[T+1, B, F]`` (``Policy.actor_features``; None when it reads none)."""
    with torch.no_grad():
        features = policy.actor_features(rollout.obs, rollout.is_init)
        targets = critic_targets(policy, rollout, config, scale, features)
        mean, std = _moments(targets, rollout.valid.float(), _valid_count(rollout))
        return targets, mean, std, features


def critic_values(policy: Policy, rollout: Rollout, scale: tuple[torch.Tensor, torch.Tensor],
                  actor_features: torch.Tensor | None = None) -> torch.Tensor:
    """The critic's value ``V = mu + sigma * n(s)`` of every observation, ``[T+1, B]``, without gradients;
    ``actor_features`` as ``Policy.value``'s."""
    mean, std = scale
    return (mean + std * policy.value(rollout.obs, rollout.is_init, actor_features)).detach()


def _advantages_and_baseline(rollout: Rollout, config: RunConfig, policy: Policy, running_mean: torch.Tensor | None,
                             scale: tuple[torch.Tensor, torch.Tensor] | None,
                             actor_features: torch.Tensor | None = None
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns-to-go, advantages and the baseline they subtract, all ``[T, B]`` and detached.

    ``estimator="reinforce"``: ``A = G - b`` with ``b`` zero, the running mean or
    ``V(s_t)``. ``estimator="gae"``: GAE(lambda) from the critic (Schulman et al.,
    2016), which equals ``G - V(s_t)`` at ``lambda = 1``.
    """
    steps = rollout.rewards.shape[0]
    returns = returns_to_go(rollout, config)
    if policy.critic is not None:
        if scale is None:  # the critic's initial target moments
            scale = (torch.zeros((), device=returns.device), torch.ones((), device=returns.device))
        values = critic_values(policy, rollout, scale, actor_features)
        if config.estimator == "gae":
            advantages = generalized_advantages(rollout.rewards, rollout.terminated, rollout.truncated, values,
                                                config.gamma, config.gae_lambda)
            return returns, advantages, returns - advantages
        return returns, returns - values[:steps], values[:steps]
    baseline = running_mean.expand_as(returns) if running_mean is not None else torch.zeros_like(returns)
    return returns, returns - baseline, baseline


def _moments(values: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = _masked_mean(values, mask, count)
    return mean, _masked_mean((values - mean) ** 2, mask, count).sqrt()


def advantage_moments(policy: Policy, rollout: Rollout, config: RunConfig, running_mean: torch.Tensor | None,
                      scale: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of the whole batch's advantages, without gradients.

    A split update (``column_chunks``) computes them once and normalises every
    part with them, so the parts add up to the one-pass loss.
    """
    with torch.no_grad():
        _, advantages, _ = _advantages_and_baseline(rollout, config, policy, running_mean, scale)
        return _moments(advantages, rollout.valid.float(), _valid_count(rollout))


def policy_gradient_loss(
    policy: Policy, rollout: Rollout, config: RunConfig, running_mean: torch.Tensor | None = None,
    columns: slice | None = None, moments: tuple[torch.Tensor, torch.Tensor] | None = None,
    scale: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> PolicyTerms:
    """The actor's loss ``-mean(A * log pi(a|s)) - entropy_coef * mean(H)`` over valid steps.

    The sequence is replayed from the episode start (``is_init`` at t = 0), so
    recurrent agents see exactly what they saw while acting. ``running_mean`` is
    the running-mean baseline's current value; ``scale`` the critic's target
    moments ``(mu, sigma)`` (``baseline="critic"``). ``columns`` (from
    ``column_chunks``) restricts the loss to some episodes, scaled to the whole
    batch: the terms of a partition of the columns sum to the whole batch's loss.
    With ``normalize_returns``, ``moments`` are the whole batch's advantage
    moments (``advantage_moments``; computed here when not given).
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

    # The critic reads the features the actor acted with (detached: its baseline passes no gradient).
    reads = policy.critic is not None and policy.critic.reads_actor
    returns, advantages, baseline = _advantages_and_baseline(part, config, policy, running_mean, scale,
                                                             features.detach() if reads else None)
    if config.normalize_returns:
        if moments is None:
            moments = (_moments(advantages, mask, count) if columns is None
                       else advantage_moments(policy, rollout, config, running_mean, scale))
        mean, std = moments
        advantages = (advantages - mean) / (std + 1e-8)
    policy_loss = -_masked_mean(advantages.detach() * log_prob, mask, count)
    mean_entropy = _masked_mean(entropy, mask, count)
    total = policy_loss - config.entropy_coef * mean_entropy
    return PolicyTerms(total, policy_loss, mean_entropy, _masked_mean(baseline, mask, count),
                       _masked_mean(returns, mask, count).detach(),
                       *mean_at_bounds(policy.action_head, dist, mask, count))


def value_loss(policy: Policy, rollout: Rollout, config: RunConfig, scale: tuple[torch.Tensor, torch.Tensor],
               columns: slice | None = None, targets: torch.Tensor | None = None,
               actor_features: torch.Tensor | None = None) -> torch.Tensor:
    """The critic's squared error in normalised units, ``mean((n(s) - (y - mu) / sigma)^2)`` over valid steps.

    ``targets`` are the whole batch's ``critic_targets`` ``y`` ``[T, B]``, fixed for the
    update's value steps (``targets_and_moments``, as are the whole batch's ``actor_features``
    ``[T+1, B, F]`` the critic reads; both computed here when not given);
    ``scale = (mu, sigma)`` their moments (``sigma`` floored); ``columns`` as in
    ``policy_gradient_loss`` (parts sum to the whole). Times ``sigma^2`` it is the
    mean squared error of ``V`` itself.
    """
    count = _valid_count(rollout)
    if actor_features is None:
        actor_features = policy.actor_features(rollout.obs, rollout.is_init)
    if targets is None:
        targets = critic_targets(policy, rollout, config, scale, actor_features)
    part = rollout if columns is None else rollout.columns(columns)
    targets = targets if columns is None else targets[:, columns]
    if actor_features is not None and columns is not None:
        actor_features = actor_features[:, columns]
    steps = part.rewards.shape[0]
    mean, std = scale
    predicted = policy.value(part.obs, part.is_init, actor_features)[:steps]
    return _masked_mean((predicted - (targets.detach() - mean) / std) ** 2, part.valid.float(), count)


def critic_rows(policy: Policy, rollout: Rollout, targets: torch.Tensor, actor_features: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A memoryless critic's valid steps as independent rows: its inputs ``[N, in]`` (``Critic.inputs``)
    and targets ``[N]``, N the batch's valid steps; None for a critic with memory (its rows are sequences).

    ``value_loss_of_rows`` on them is ``value_loss`` without the padded rows, which ``value_loss``
    computes and masks out (a quarter of a CartPole batch's rows over a run: its episodes differ in length).
    Data-dependent shapes: the gym backend's runs only (``GymLearner``; a seed batch, or a torch-backend
    run, which is a seed batch of one, is vmapped and pads).
    """
    critic = policy.critic
    if critic is None or critic.agent.has_memory:
        return None
    steps = rollout.rewards.shape[0]
    features = None if actor_features is None else actor_features[:steps]
    with torch.no_grad():
        inputs = critic.inputs(rollout.obs[:steps], features)
    return inputs[rollout.valid], targets[rollout.valid]


def value_loss_of_rows(policy: Policy, inputs: torch.Tensor, targets: torch.Tensor,
                       scale: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """``value_loss`` over ``critic_rows``' valid rows (``inputs: [N, in]``, ``targets: [N]``):
    ``mean((n(s) - (y - mu) / sigma)^2)``; 0 for no rows, as ``value_loss`` gives a batch with no valid step."""
    mean, std = scale
    squares = (policy.critic.value_of_rows(inputs) - (targets.detach() - mean) / std) ** 2
    return squares.sum() / max(squares.shape[0], 1)


def combined_loss(policy: Policy, rollout: Rollout, config: RunConfig,
                  running_mean: torch.Tensor | None = None) -> torch.Tensor:
    """The actor's and the critic's losses added, with the critic's initial target moments ``(0, 1)``.

    Training steps them separately (``bench.learn.update``); a check that every
    parameter gets a gradient (the doctor) or a timing of one pass (perf) takes both at once.
    """
    total = policy_gradient_loss(policy, rollout, config, running_mean).total
    if policy.critic is not None:
        device = rollout.obs.device
        total = total + value_loss(policy, rollout, config, (torch.zeros((), device=device), torch.ones((), device=device)))
    return total
