"""One training run: a pure function of its ``RunConfig`` (seed included).

Reads top to bottom: seed the streams, build environments and policy, then
repeat {collect B complete episodes, recompute and differentiate the loss,
clip, step} until the step budget is spent, then evaluate the deterministic
policy on fresh episodes.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from bench import envs as bench_envs
from bench.learn.common import (RunResult, Streams, TrainingDiverged, configure_determinism, episode_summary,
                                run_identity, seeded_policy, select_device)
from bench.learn.config import RunConfig
from bench.learn.loss import LossTerms, RunningMeanBaseline, advantage_moments, column_chunks, policy_gradient_loss
from bench.learn.optim import Adam
from bench.learn.policy import Policy, build_policy
from bench.learn.rollout import Rollout, collect_episodes
from bench.envs.vector import make_env_batch

#: Columns that measure time, not learning: excluded from determinism checks.
TIMING_COLUMNS = ("wall_time",)


def clip_gradients(policy: Policy, max_norm: float) -> torch.Tensor:
    """Clip actor and critic separately; return the actor's norm before clipping.

    Separately, because the critic's gradient scales with the returns and would
    otherwise dictate how much of the policy gradient survives the clip.
    """
    actor = [p for name, p in policy.named_parameters() if not name.startswith("critic.")]
    norm = torch.nn.utils.clip_grad_norm_(actor, max_norm)
    if policy.critic is not None:
        torch.nn.utils.clip_grad_norm_(policy.critic.parameters(), max_norm)
    return norm


def _episode_stats(rollout: Rollout, success_score: float) -> dict[str, float]:
    return episode_summary(rollout.episode_returns.double().cpu().numpy(), rollout.lengths.double().cpu().numpy(),
                           success_score)


def _check_finite(update: int, terms: LossTerms, grad_norm: torch.Tensor) -> None:
    for name, value in (("policy_loss", terms.policy), ("value_loss", terms.value), ("entropy", terms.entropy),
                        ("loss", terms.total), ("grad_norm", grad_norm)):
        if not torch.isfinite(value).all():
            raise TrainingDiverged(f"update {update}: {name} is {value.item()} (not finite)")


def accumulate_gradients(policy: Policy, rollout: Rollout, config: RunConfig,
                         running_mean: torch.Tensor | None) -> LossTerms:
    """Backward the update's loss into ``.grad``, one pass per column chunk; return its (detached) terms."""
    chunks = column_chunks(rollout.rewards.shape[0], rollout.rewards.shape[1], policy.agent.max_loss_rows)
    moments = (advantage_moments(policy, rollout, config, running_mean)
               if len(chunks) > 1 and config.normalize_returns else None)
    parts = []
    for columns in chunks:
        part = policy_gradient_loss(policy, rollout, config, running_mean, columns, moments)
        part.total.backward()
        parts.append(part)
    return LossTerms.sum(parts)


def evaluate(policy: Policy, config: RunConfig, seed: int, device: torch.device) -> dict[str, float]:
    """Mean return of the deterministic policy over ``eval_episodes`` fresh episodes."""
    envs = make_env_batch(config.env, config.eval_episodes, device)
    try:
        rollout = collect_episodes(envs, policy, torch.Generator(device=device), device, seed=seed, deterministic=True)
    finally:
        envs.close()
    return _episode_stats(rollout, bench_envs.spec_for(config.env).success_score)


def _progress_bar(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)


def train(config: RunConfig, progress: bool = False) -> RunResult:
    """Train one run. ``config`` must be validated and have ``steps > 0``.

    On the torch backend this is a seed batch of one (``bench.learn.seed_batch``), so
    a run gives the same numbers alone or batched with other seeds.
    """
    if config.steps <= 0:
        raise ValueError("train() needs a resolved step budget (config.steps > 0)")
    if config.backend == "torch":
        from bench.learn.seed_batch import train_seed_batch

        (outcome,) = train_seed_batch([config])
        if isinstance(outcome, TrainingDiverged):
            raise outcome
        return outcome
    device = select_device(config.device)
    configure_determinism(device)
    streams = Streams.from_seed(config.seed)
    spec = bench_envs.spec_for(config.env)

    envs = make_env_batch(config.env, config.num_envs, device)
    policy = seeded_policy(config, envs.single_observation_space, envs.single_action_space, streams.init, device)
    optimiser = Adam(policy.parameters(), lr=config.lr, eps=1e-5)
    action_stream = torch.Generator(device=device).manual_seed(streams.actions)
    running_mean = RunningMeanBaseline(config.baseline_rate) if config.baseline == "running_mean" else None
    max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf

    rows: list[dict[str, Any]] = []
    env_steps, episodes, update = 0, 0, 0
    bar = _progress_bar(config.steps, progress)
    start = time.perf_counter()
    try:
        while env_steps < config.steps:
            rollout = collect_episodes(
                envs, policy, action_stream, device, seed=streams.env if update == 0 else None
            )
            optimiser.zero_grad()
            terms = accumulate_gradients(policy, rollout, config, running_mean.value if running_mean else None)
            if running_mean is not None:
                running_mean.update(terms.return_mean)
            grad_norm = clip_gradients(policy, max_norm)
            _check_finite(update, terms, grad_norm)
            optimiser.step()

            new_steps = int(rollout.lengths.sum().item())
            env_steps += new_steps
            stats = _episode_stats(rollout, spec.success_score)
            episodes += int(stats["episodes"])
            rows.append({"phase": "train", "update": update, "env_steps": env_steps, "episodes_total": episodes,
                         "wall_time": time.perf_counter() - start, **stats, **terms.as_floats(),
                         "grad_norm": float(grad_norm)})
            update += 1
            if bar is not None:
                bar.update(new_steps)
                bar.set_postfix(ret=f"{stats['return_mean']:.1f}")
    except TrainingDiverged as error:
        error.metrics = pd.DataFrame(rows)
        raise
    finally:
        envs.close()
        if bar is not None:
            bar.close()
    train_seconds = time.perf_counter() - start

    final = evaluate(policy, config, streams.eval_env, device)
    rows.append({"phase": "eval", "update": update - 1, "env_steps": env_steps, "episodes_total": episodes,
                 "wall_time": time.perf_counter() - start, **final})
    metrics = pd.DataFrame(rows)
    info = {
        **run_identity(config, device),
        "status": "finished",
        "parameters": sum(p.numel() for p in policy.parameters() if p.requires_grad),
        "updates": update,
        "env_steps": env_steps,
        "train_seconds": train_seconds,
        "wall_seconds": time.perf_counter() - start,
        "steps_per_second": env_steps / train_seconds if train_seconds > 0 else math.nan,
        "final_score": final["return_mean"],
        "final_success_rate": final["success_rate"],
        "normalised_score": spec.normalise(final["return_mean"]),
    }
    return RunResult(metrics, info)


