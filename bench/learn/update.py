"""The learning rule, written once: one update of S runs at a time (S = 1 for a single run).

Single runs (``bench.learn.train``, gymnasium environments) and seed batches
(``bench.learn.seed_batch``, vmapped torch-native environments) differ only in
how they collect episodes and compute gradients (a ``Learner``). What an update
does with them is here:

1. the policy gradient of the batch (REINFORCE, or GAE(lambda) from the critic),
   clipped per seed, one Adam step of the actor;
2. the running-mean baseline folds in the batch;
3. the critic, if any: its targets' moments move to this batch's targets
   (returns-to-go bootstrapped at time-limit truncation, or with ``critic_time`` capped there and read
   with the elapsed time; the value head rescaled
   so that ``V`` is unchanged, ``bench.learn.loss``), then ``value_iters`` Adam
   steps on its squared error with its own step size, as the classic VPG
   implementations fit the value function (Spinning Up's VPG: 80 steps of
   ``vf_lr`` per epoch). A critic that reads the actor's features (``critic_memory="actor"``) reads
   them as the actor computes them after its step, once per update: its value steps run no recurrence.
   A memoryless critic's value steps on the gym backend read the batch's valid steps as independent rows
   (``bench.learn.loss.critic_rows``), not the padded ``[T, B]`` batch (a seed batch, vmapped, pads; so
   does a torch-backend run, a seed batch of one).
   Its explained variance of the batch's targets is
   measured *before* fitting, on data it has not seen; ``value_loss_fitted`` is
   the loss at the last step (before its update: no extra pass to measure it).

Parameters are dictionaries of tensors stacked over seeds (``{name: [S, ...]}``);
seeds with ``active = False`` (budget spent, or diverged) do not change.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import pandas as pd
import torch

from bench.learn.common import RunResult, TrainingDiverged
from bench.learn.config import RunConfig
from bench.learn.loss import MIN_TARGET_STD, RunningMeanBaseline
from bench.learn.optim import StackedAdam
from bench.learn.symptoms import critic_explained_variance, degenerate_run_warnings

#: The value head's parameters, rescaled when the critic's target moments move.
VALUE_WEIGHT, VALUE_BIAS = "critic.value_head.value.weight", "critic.value_head.value.bias"

Scale = tuple[torch.Tensor, torch.Tensor]


class Learner(Protocol):
    """Gradients of one batch for S runs; tensors ``[S, ...]``."""

    params: dict[str, torch.Tensor]

    def policy_gradients(self, rollout: Any, running_mean: torch.Tensor | None, scale: Scale | None,
                         active: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Gradients of the actor's loss (actor parameters only) and its terms
        ``POLICY_TERMS`` (``bench.learn.loss``), each ``[S]``."""

    def critic_targets(self, rollout: Any, scale: Scale) -> tuple[Any, Scale]:
        """Each seed's critic targets (``V`` from ``scale``) with the actor's features the critic reads
        (``Policy.actor_features``), both kept fixed for the update's value steps and in the learner's
        own layout, and the targets' mean and standard deviation ``[S]``."""

    def value_gradients(self, rollout: Any, targets: Any, scale: Scale, active: torch.Tensor
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Gradients of the critic's loss (critic parameters only) and the loss ``[S]``."""


def is_critic(name: str) -> bool:
    return name.startswith("critic.")


def clip_per_seed(grads: dict[str, torch.Tensor], max_norm: float) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Clip the global norm of ``grads`` per seed, as ``torch.nn.utils.clip_grad_norm_`` would for each.

    Returns the clipped gradients and the norm before clipping ``[S]``.
    """
    names = list(grads)
    first = grads[names[0]]
    # Summed parameter by parameter, elementwise over seeds: a reduction over a stacked
    # [parameters, S] tensor takes another summation order when S = 1.
    total = first.new_zeros(first.shape[0])
    for name in names:
        total = total + grads[name].flatten(1).square().sum(1)
    norm = total.sqrt()
    if not bool(torch.isfinite(norm).all()):
        # Finite gradients whose summed squares overflow float32 (elements near 1e19: a recurrent
        # critic's gradient exploding through time) have a finite norm: summed in float64 and then
        # clipped like any other (torch's clip_grad_norm_ would report an infinite norm and scale the
        # step to 0). Only here, so every other update keeps its float32 arithmetic bit for bit.
        wide = sum(grads[name].flatten(1).double().square().sum(1) for name in names).sqrt()
        norm = torch.where(torch.isfinite(norm), norm, wide.to(norm.dtype))
    coef = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    return {name: g * coef.reshape((-1,) + (1,) * (g.dim() - 1)) for name, g in grads.items()}, norm


def first_non_finite(values: dict[str, torch.Tensor]) -> list[str | None]:
    """Per seed, ``"<name> is <value>"`` of the first NaN/inf among ``values`` (``[S]`` each), else None."""
    table = torch.stack(list(values.values()), 1).detach().cpu()  # [S, k]
    problems = []
    for row in table:
        bad = [(name, float(v)) for name, v in zip(values, row) if not math.isfinite(float(v))]
        problems.append(f"{bad[0][0]} is {bad[0][1]}" if bad else None)
    return problems


def rescale_value_head(params: dict[str, torch.Tensor], old: Scale, new: Scale, where: torch.Tensor) -> None:
    """Keep ``V = mu + sigma * (w f + b)`` unchanged when ``(mu, sigma)`` become ``new`` (PopArt, in place),
    for the seeds ``where`` (``[S]`` bool); the others keep their parameters bit for bit."""
    (old_mean, old_std), (new_mean, new_std) = old, new
    ratio = old_std / new_std  # [S]
    weight = params[VALUE_WEIGHT] * ratio[:, None, None]
    bias = (params[VALUE_BIAS] * old_std[:, None] + (old_mean - new_mean)[:, None]) / new_std[:, None]
    params[VALUE_WEIGHT] = torch.where(where[:, None, None], weight, params[VALUE_WEIGHT])
    params[VALUE_BIAS] = torch.where(where[:, None], bias, params[VALUE_BIAS])


@dataclass
class StepOutcome:
    """One update: per-seed loss columns ``{column: [S]}``, failures, and the seeds that stepped."""

    columns: dict[str, torch.Tensor]
    problems: list[str | None]
    stepping: torch.Tensor


class LearningRule:
    """The optimiser states and baselines of S runs, and their update."""

    def __init__(self, config: RunConfig, params: dict[str, torch.Tensor], device: torch.device) -> None:
        self.config = config
        seeds = next(iter(params.values())).shape[0]
        self.actor_names = [n for n in params if not is_critic(n)]
        self.critic_names = [n for n in params if is_critic(n)]
        self.actor_adam = StackedAdam({n: params[n] for n in self.actor_names}, config.lr)
        self.critic_adam = (StackedAdam({n: params[n] for n in self.critic_names}, config.value_lr)
                            if self.critic_names else None)
        self.running_mean = (RunningMeanBaseline(config.baseline_rate, (seeds,), device)
                             if config.baseline == "running_mean" else None)
        self.scale: Scale | None = ((torch.zeros(seeds, device=device), torch.ones(seeds, device=device))
                                    if self.critic_names else None)
        self.max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf
        self.critic_steps = 0

    def step(self, learner: Learner, rollout: Any, update: int, active: torch.Tensor) -> StepOutcome:
        """Update the active seeds on ``rollout``. A seed whose policy loss or gradient is not finite
        is reported in ``problems`` and not stepped; one whose critic fails is reported too (its run
        has diverged either way, and stops)."""
        running_mean = self.running_mean.value if self.running_mean is not None else None
        grads, terms = learner.policy_gradients(rollout, running_mean, self.scale, active)
        grads, grad_norm = clip_per_seed(grads, self.max_norm)
        columns = {"loss": terms["total"], "policy_loss": terms["policy"], "entropy": terms["entropy"],
                   "baseline_mean": terms["baseline"], "grad_norm": grad_norm,
                   "mean_at_low": terms["mean_at_low"], "mean_at_high": terms["mean_at_high"]}
        problems = first_non_finite({k: columns[k] for k in ("policy_loss", "entropy", "loss", "grad_norm")})
        stepping = active & ~torch.tensor([p is not None for p in problems], device=active.device)
        params = dict(learner.params)
        params.update(self.actor_adam.step({n: params[n] for n in self.actor_names}, grads, update + 1, stepping))
        if self.running_mean is not None:
            self.running_mean.update(terms["return_mean"], stepping)
        if self.critic_names:
            params, critic_columns, stepping = self._fit_critic(learner, rollout, params, stepping, problems)
            columns.update(critic_columns)
        learner.params = params
        return StepOutcome(columns, problems, stepping)

    def _fit_critic(self, learner: Learner, rollout: Any, params: dict[str, torch.Tensor], stepping: torch.Tensor,
                    problems: list[str | None]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], torch.Tensor]:
        """``value_iters`` Adam steps of the critic; a seed whose critic loss or gradient is not
        finite is reported in ``problems`` (its actor has stepped already: the run has diverged)."""
        assert self.scale is not None and self.critic_adam is not None
        # The actor has stepped: a critic that reads its features is fitted on those it will be
        # evaluated on in the next update's advantages.
        learner.params = params
        targets, (mean, std) = learner.critic_targets(rollout, self.scale)
        # A batch whose targets are all (nearly) equal, e.g. a bandit answered perfectly, says
        # nothing about their scale: the moments stay where they were.
        moving = stepping & (std >= MIN_TARGET_STD)
        new = (torch.where(moving, mean, self.scale[0]), torch.where(moving, std, self.scale[1]))
        rescale_value_head(params, self.scale, new, moving)
        self.scale = new
        losses = []
        for _ in range(self.config.value_iters):
            learner.params = params
            grads, loss = learner.value_gradients(rollout, targets, new, stepping)
            grads, norm = clip_per_seed(grads, self.max_norm)
            for s, problem in enumerate(first_non_finite({"value_loss": loss, "value_grad_norm": norm})):
                if problem is not None and bool(stepping[s]) and problems[s] is None:
                    problems[s] = problem
            stepping = stepping & torch.isfinite(loss) & torch.isfinite(norm)
            self.critic_steps += 1
            params.update(self.critic_adam.step({n: params[n] for n in self.critic_names}, grads,
                                                self.critic_steps, stepping))
            losses.append(loss)
        # Explained variance 1 - SSE/SST of V on the batch's targets, before fitting (the first loss is
        # SSE/(n sigma^2)); undefined (NaN) where the targets do not vary.
        explained = torch.where(std > 0, 1 - losses[0] * (new[1] / std.clamp_min(1e-30)) ** 2, math.nan)
        return params, {"value_loss": losses[0], "value_loss_fitted": losses[-1], "explained_variance": explained,
                        "target_std": std}, stepping


def run_info(config: RunConfig, last: dict[str, Any], updates: int, parameters: int, train_seconds: float,
             evaluation: dict[str, float], initial: dict[str, float], normalise: Callable[[float], float],
             identity: dict[str, Any]) -> dict[str, Any]:
    """What ``run.json`` records of a finished run (both trainers)."""
    return {
        **identity,
        "status": "finished",
        "parameters": parameters,
        "updates": updates,
        "env_steps": last["env_steps"],
        "train_seconds": train_seconds,
        "steps_per_second": last["env_steps"] / train_seconds if train_seconds > 0 else math.nan,
        "final_score": evaluation["return_mean"],
        "final_success_rate": evaluation["success_rate"],
        "normalised_score": normalise(evaluation["return_mean"]),
        "initial_score": initial["return_mean"],
        "initial_normalised_score": normalise(initial["return_mean"]),
    }


def finish(rows: list[dict[str, Any]], failure: str | None, evaluation: dict[str, float],
           info: dict[str, Any]) -> RunResult | TrainingDiverged:
    """A seed's outcome: its result, or its divergence with the metrics it had (both trainers).

    A non-finite evaluation score is a failure too: a run whose deterministic
    policy cannot be scored has no result.
    """
    metrics = pd.DataFrame(rows)
    if failure is None and not math.isfinite(evaluation["return_mean"]):
        failure = f"final evaluation: return_mean is {evaluation['return_mean']} (not finite)"
    if failure is not None:
        error = TrainingDiverged(failure)
        error.metrics = metrics
        return error
    last = rows[-1]
    eval_row = {"phase": "eval", "update": last["update"], "env_steps": last["env_steps"],
                "episodes_total": last["episodes_total"], "wall_time": info["wall_seconds"], **evaluation}
    return RunResult(pd.concat([metrics, pd.DataFrame([eval_row])], ignore_index=True), info)


class Trainer(Protocol):
    """How S runs collect episodes and are evaluated (a gymnasium single run, or a seed batch)."""

    learner: Learner
    device: torch.device

    def collect(self, update: int, active: torch.Tensor) -> Any:
        """One batch of complete episodes per active seed, with the current parameters."""

    def episode_stats(self, rollout: Any) -> list[dict[str, float]]:
        """Per seed, ``bench.learn.common.episode_summary`` of the batch plus ``steps`` (valid steps)."""

    def evaluate(self) -> list[dict[str, float]]:
        """Per seed, the deterministic policy's ``episode_summary`` over the evaluation episodes."""


def train_runs(configs: list[RunConfig], trainer: Trainer, normalise: Callable[[float], float],
               identity: Callable[[RunConfig], dict[str, Any]],
               on_update: Callable[[int, float], None] | None = None) -> list[RunResult | TrainingDiverged]:
    """Train S runs that differ only in seed until each has spent its step budget.

    The untrained policy is evaluated first, on the same episodes as the final
    evaluation (the floor a run must clear to have learned anything). Returns, per
    config in order, the ``RunResult`` or the ``TrainingDiverged`` of that seed.
    """
    config, seeds, device = configs[0], len(configs), trainer.device
    rule = LearningRule(config, trainer.learner.params, device)
    initial = trainer.evaluate()
    active = torch.ones(seeds, dtype=torch.bool, device=device)
    env_steps, episodes, updates = [0] * seeds, [0] * seeds, [0] * seeds
    rows: list[list[dict[str, Any]]] = [[] for _ in configs]
    failures: dict[int, str] = {}
    update, start = 0, time.perf_counter()
    while bool(active.any()):
        rollout = trainer.collect(update, active)
        outcome = rule.step(trainer.learner, rollout, update, active)
        stats = trainer.episode_stats(rollout)
        names = list(outcome.columns)
        table = torch.stack([outcome.columns[n].detach().double() for n in names], 1).cpu().tolist()  # one transfer
        was_active, wall = active.cpu().tolist(), time.perf_counter() - start
        for s in range(seeds):
            if not was_active[s]:
                continue
            if outcome.problems[s] is not None:
                failures[s] = f"update {update}: {outcome.problems[s]} (not finite)"
                continue
            steps = int(stats[s].pop("steps"))
            env_steps[s] += steps
            episodes[s] += int(stats[s]["episodes"])
            rows[s].append({"phase": "train", "update": update, "env_steps": env_steps[s],
                            "episodes_total": episodes[s], "wall_time": wall, **stats[s],
                            **dict(zip(names, table[s]))})
            updates[s] = update + 1
            if on_update is not None:
                on_update(steps, stats[s]["return_mean"])
        budget_left = torch.tensor([steps < config.steps for steps in env_steps], device=device)
        active = outcome.stepping & budget_left
        update += 1
    train_seconds = time.perf_counter() - start
    final = trainer.evaluate()
    parameters = sum(p[0].numel() for p in trainer.learner.params.values())
    outcomes: list[RunResult | TrainingDiverged] = []
    for s, run_config in enumerate(configs):
        info = None
        if s not in failures and rows[s]:
            info = run_info(run_config, rows[s][-1], updates[s], parameters, train_seconds, final[s], initial[s],
                            normalise, identity(run_config))
            info["wall_seconds"] = time.perf_counter() - start
            info["warnings"] = degenerate_run_warnings(rows[s])
            info["critic_explained_variance"] = critic_explained_variance(rows[s])
            for warning in info["warnings"]:
                print(f"warning: seed {run_config.seed}: {warning}", file=sys.stderr)
        outcomes.append(finish(rows[s], failures.get(s), final[s], info or {"wall_seconds": 0.0}))
    return outcomes
