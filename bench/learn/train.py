"""One training run: a pure function of its ``RunConfig`` (seed included).

Seed the streams, build the gymnasium environments and the policy, then hand
them to the learning rule (``bench.learn.update.train_runs``): repeat {collect
B complete episodes, one update} until the step budget is spent, then evaluate
the deterministic policy on fresh episodes. On the torch backend a run is a
seed batch of one (``bench.learn.seed_batch``).
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import torch
from torch.func import functional_call

from bench import envs as bench_envs
from bench.envs.vector import GymBatch, make_env_batch
from bench.learn.common import (RunResult, Streams, TrainingDiverged, configure_determinism, episode_summary,
                                run_identity, seeded_policy, select_device)
from bench.learn.config import RunConfig
from bench.learn.loss import (POLICY_TERMS, Bound, advantage_moments, column_chunks, critic_rows,
                              policy_gradient_loss, targets_and_moments, value_loss, value_loss_of_rows)
from bench.learn.policy import Policy
from bench.learn.rollout import Rollout, collect_episodes
from bench.learn.update import Scale, is_critic, train_runs

#: Columns that measure time, not learning: excluded from determinism checks.
TIMING_COLUMNS = ("wall_time",)
__all__ = ["TIMING_COLUMNS", "RunResult", "TrainingDiverged", "train", "evaluate", "GymLearner"]


class GymLearner:
    """Gradients of one run's losses, with its parameters kept as a stack of one (``[1, ...]``).

    The policy module acts with the same values: setting ``params`` copies them in.
    """

    def __init__(self, policy: Policy, config: RunConfig) -> None:
        self.policy = policy
        self.config = config
        self._params = {name: p.detach().clone()[None] for name, p in policy.named_parameters()}
        self._in_module = dict(self._params)  # the tensor each module parameter was last copied from

    @property
    def params(self) -> dict[str, torch.Tensor]:
        return self._params

    @params.setter
    def params(self, value: dict[str, torch.Tensor]) -> None:
        self._params = value
        with torch.no_grad():
            for name, p in self.policy.named_parameters():
                # Only tensors not copied in yet (the critic's steps leave the actor's as they are);
                # by identity, as the caller may update one dictionary in place.
                if value[name] is not self._in_module.get(name):
                    p.copy_(value[name][0])
                    self._in_module[name] = value[name]

    def _grads(self, names: list[str], losses: Any) -> dict[str, torch.Tensor]:
        """Accumulate ``losses()`` (an iterable of scalar parts) into gradients ``[1, ...]`` of ``names``."""
        leaves = {n: self._params[n][0].detach().requires_grad_() for n in names}
        totals = {n: torch.zeros_like(v) for n, v in leaves.items()}
        for part in losses(leaves):
            for name, g in zip(leaves, torch.autograd.grad(part, list(leaves.values()), allow_unused=True)):
                if g is not None:
                    totals[name] += g
        return {n: g[None] for n, g in totals.items()}

    def _call(self, leaves: dict[str, torch.Tensor], function: Any, *args: Any) -> Any:
        """``function(policy, *args)`` with ``leaves`` in place of those parameters (the others detached)."""
        tensors = {n: p.detach() for n, p in self.policy.named_parameters()}
        tensors.update(leaves)
        return functional_call(Bound(self.policy, function), {f"policy.{n}": v for n, v in tensors.items()}, args,
                               tie_weights=False)

    def policy_gradients(self, rollout: Rollout, running_mean: torch.Tensor | None, scale: Scale | None,
                         active: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        config = self.config
        baseline = None if running_mean is None else running_mean[0]
        one_scale = None if scale is None else (scale[0][0], scale[1][0])
        chunks = column_chunks(rollout.rewards.shape[0], rollout.rewards.shape[1], self.policy.agent.max_loss_rows)
        moments = None
        if len(chunks) > 1 and config.normalize_returns:  # once per update, shared by the parts
            moments = advantage_moments(self.policy, rollout, config, baseline, one_scale)
        parts = []

        def losses(leaves):
            for columns in chunks:
                part = self._call(leaves, policy_gradient_loss, rollout, config, baseline, columns, moments,
                                  one_scale)
                parts.append(part)
                yield part.total

        grads = self._grads([n for n in self._params if not is_critic(n)], losses)
        terms = {name: torch.stack([sum(getattr(p, name).detach() for p in parts)])
                 for name in POLICY_TERMS}
        return grads, terms

    def value_gradients(self, rollout: Rollout, targets: "CriticBatch", scale: Scale,
                        active: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        one_scale = (scale[0][0], scale[1][0])
        total = []
        if targets.rows is not None:  # a memoryless critic: its valid rows only, in one pass
            def losses(leaves):
                part = self._call(leaves, value_loss_of_rows, *targets.rows, one_scale)
                total.append(part.detach())
                yield part
        else:
            chunks = column_chunks(rollout.rewards.shape[0], rollout.rewards.shape[1],
                                   self.policy.agent.max_loss_rows)

            def losses(leaves):
                for columns in chunks:
                    part = self._call(leaves, value_loss, rollout, self.config, one_scale, columns, targets.targets,
                                      targets.features)
                    total.append(part.detach())
                    yield part

        grads = self._grads([n for n in self._params if is_critic(n)], losses)
        return grads, torch.stack([sum(total)])

    def critic_targets(self, rollout: Rollout, scale: Scale) -> tuple["CriticBatch", Scale]:
        """What the critic's value steps read (``CriticBatch``), and its targets' moments ``[1]``."""
        targets, mean, std, features = targets_and_moments(self.policy, rollout, self.config,
                                                           (scale[0][0], scale[1][0]))
        return CriticBatch(targets, features, critic_rows(self.policy, rollout, targets, features)), (mean[None], std[None])


class CriticBatch(NamedTuple):
    """One update's fixed inputs to a single run's value steps."""

    targets: torch.Tensor  # [T, B]
    features: torch.Tensor | None  # the actor's [T+1, B, F] that the critic reads, or None
    rows: tuple[torch.Tensor, torch.Tensor] | None  # a memoryless critic's valid rows (``critic_rows``)


class GymTrainer:
    """A single run on gymnasium's vector environments (``bench.envs.vector``)."""

    def __init__(self, config: RunConfig, device: torch.device) -> None:
        self.config, self.device = config, device
        self.streams = Streams.from_seed(config.seed)
        self.spec = bench_envs.spec_for(config.env)
        self.envs = make_env_batch(config.env, config.num_envs, device)
        self.policy = seeded_policy(config, self.envs.single_observation_space, self.envs.single_action_space,
                                    self.envs.time_limit, self.streams.init, device)
        self.learner = GymLearner(self.policy, config)
        self.actions = torch.Generator(device=device).manual_seed(self.streams.actions)

    def collect(self, update: int, active: torch.Tensor) -> Rollout:
        return collect_episodes(self.envs, self.policy, self.actions, self.device,
                                seed=self.streams.env if update == 0 else None)

    def episode_stats(self, rollout: Rollout) -> list[dict[str, float]]:
        lengths = rollout.lengths.double().cpu().numpy()
        stats = episode_summary(rollout.episode_returns.double().cpu().numpy(), lengths, self.spec.success_score)
        return [{**stats, "steps": float(lengths.sum())}]

    def evaluate(self) -> list[dict[str, float]]:
        return [evaluate(self.policy, self.config, self.streams.eval_env, self.device)]

    def close(self) -> None:
        self.envs.close()


def evaluate(policy: Policy, config: RunConfig, seed: int, device: torch.device) -> dict[str, float]:
    """Mean return of the deterministic policy over ``eval_episodes`` fresh episodes."""
    envs: GymBatch = make_env_batch(config.env, config.eval_episodes, device)
    try:
        rollout = collect_episodes(envs, policy, torch.Generator(device=device), device, seed=seed, deterministic=True)
    finally:
        envs.close()
    return episode_summary(rollout.episode_returns.double().cpu().numpy(), rollout.lengths.double().cpu().numpy(),
                           bench_envs.spec_for(config.env).success_score)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)


def train(config: RunConfig, progress: bool = False) -> RunResult:
    """Train one run. ``config`` must be validated and have ``steps > 0``.

    Raises ``TrainingDiverged`` (with the metrics so far) when a loss or gradient
    becomes NaN or infinite. On the torch backend this is a seed batch of one
    (``bench.learn.seed_batch``), so a run gives the same numbers alone or
    batched with other seeds.
    """
    if config.steps <= 0:
        raise ValueError("train() needs a resolved step budget (config.steps > 0)")
    if config.backend == "torch":
        from bench.learn.seed_batch import train_seed_batch

        (outcome,) = train_seed_batch([config])
    else:
        device = select_device(config.device)
        configure_determinism(device)
        trainer = GymTrainer(config, device)
        bar = _progress_bar(config.steps, progress)

        def on_update(steps: int, return_mean: float) -> None:
            bar.update(steps)
            bar.set_postfix(ret=f"{return_mean:.1f}")

        try:
            (outcome,) = train_runs([config], trainer, trainer.spec.normalise,
                                    lambda c: run_identity(c, device), on_update if bar is not None else None)
        finally:
            trainer.close()
            if bar is not None:
                bar.close()
    if isinstance(outcome, TrainingDiverged):
        raise outcome
    return outcome
