"""The gradient doctor: the same correctness checks for every registered agent.

For every agent, with every head type and every baseline, on a small synthetic
batch of episodes of different lengths:

- ``loss``: the loss is a finite scalar;
- ``gradients``: every trainable parameter receives a finite, non-zero gradient
  (catches a ``.detach()`` or a numpy round trip in the graph, seed 004).

For every agent, on a sequence with an episode reset in the middle:

- ``sequence_vs_steps``: one call over the sequence equals T single-step calls;
- ``reset_matters``: removing the reset changes the outputs after it (agents with
  memory only; memoryless agents report n/a);
- ``no_leak``: outputs after the reset get no gradient from observations before
  it, and do not depend on the state the sequence started from.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces

import agents
from bench.learn.config import BASELINES, RunConfig
from bench.learn.loss import combined_loss
from bench.learn.policy import Policy, build_policy
from bench.learn.rollout import Rollout

OBS_DIM = 4
HIDDEN = 16
TOLERANCE = 1e-5
HEADS: dict[str, tuple[spaces.Space, str]] = {
    "categorical": (spaces.Discrete(3), "learned"),
    "gaussian-learned": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "learned"),
    "gaussian-state": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "state"),
    "gaussian-fixed": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "fixed"),
}
LOSS_CHECKS = ("loss", "gradients")
SEQUENCE_CHECKS = ("sequence_vs_steps", "reset_matters", "no_leak")


@dataclass(frozen=True)
class CheckResult:
    agent: str
    head: str
    baseline: str
    check: str
    status: str  # PASS, FAIL or n/a
    detail: str = ""


def _observation_space() -> spaces.Box:
    return spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)


def synthetic_rollout(policy: Policy, generator: torch.Generator, lengths: Iterable[int] = (6, 3, 1)) -> Rollout:
    """A padded batch of episodes of the given lengths: obs ``[T+1, B, OBS_DIM]``."""
    lengths = list(lengths)
    steps, batch = max(lengths), len(lengths)
    obs = torch.randn(steps + 1, batch, OBS_DIM, generator=generator)
    is_init = torch.zeros(steps + 1, batch, dtype=torch.bool)
    is_init[0] = True
    with torch.no_grad():
        dist = policy(obs[:steps], is_init[:steps], policy.initial_state(batch)).dist
        actions = policy.sample(dist, generator)
    valid = torch.arange(steps)[:, None] < torch.tensor(lengths)[None, :]
    last = torch.arange(steps)[:, None] == (torch.tensor(lengths) - 1)[None, :]
    terminated = last.clone()
    terminated[:, -1] = False  # the last episode is cut by a time limit instead
    truncated = last & ~terminated
    return Rollout(obs, is_init, actions, torch.randn(steps, batch, generator=generator), terminated, truncated, valid)


def _gradient_problems(policy: Policy) -> list[str]:
    problems = []
    for name, parameter in policy.named_parameters():
        if not parameter.requires_grad:
            continue
        if parameter.grad is None:
            problems.append(f"{name}: no gradient")
        elif not torch.isfinite(parameter.grad).all():
            problems.append(f"{name}: non-finite gradient")
        elif parameter.grad.abs().max() == 0:
            problems.append(f"{name}: zero gradient")
    return problems


def check_loss_and_gradients(agent: str, head: str, baseline: str) -> list[CheckResult]:
    """Build the policy, compute the loss on a synthetic batch, backpropagate."""
    action_space, std_mode = HEADS[head]
    config = RunConfig(agent=agent, baseline=baseline, std_mode=std_mode, hidden_size=HIDDEN, entropy_coef=0.01)
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        policy = build_policy(config, _observation_space(), action_space)
    # A non-zero baseline value, as after the first update.
    running_mean = torch.tensor(0.3) if baseline == "running_mean" else None
    rollout = synthetic_rollout(policy, generator)
    results = []

    def result(check: str, problem: str) -> CheckResult:
        return CheckResult(agent, head, baseline, check, "FAIL" if problem else "PASS", problem)

    try:
        loss = combined_loss(policy, rollout, config, running_mean)
    except Exception as error:  # a broken agent must be reported, not crash the doctor
        return [result("loss", f"{type(error).__name__}: {error}"), result("gradients", "loss failed")]
    if loss.dim() != 0:
        results.append(result("loss", f"loss has shape {tuple(loss.shape)}, expected a scalar"))
    elif not torch.isfinite(loss):
        results.append(result("loss", f"loss is {loss.item()}"))
    else:
        results.append(result("loss", ""))
    try:
        loss.sum().backward()
        problems = _gradient_problems(policy)
    except RuntimeError as error:
        problems = [f"backward failed: {error}"]
    results.append(result("gradients", "; ".join(problems)))
    return results


def _run_steps(agent: agents.Agent, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    outputs = []
    for t in range(obs.shape[0]):
        features, state = agent(obs[t : t + 1], is_init[t : t + 1], state)
        outputs.append(features)
    return torch.cat(outputs)


def check_sequence(agent_name: str) -> list[CheckResult]:
    """Sequence mode vs step mode, effect of the reset, and leaks across it."""
    steps, batch, reset_at = 8, 3, 4
    generator = torch.Generator().manual_seed(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        agent = agents.make_agent(agent_name, OBS_DIM, HIDDEN)
    obs = torch.randn(steps, batch, OBS_DIM, generator=generator)
    is_init = torch.zeros(steps, batch, dtype=torch.bool)
    is_init[0] = True
    is_init[reset_at, :2] = True  # two of three columns restart mid-sequence
    start = agent.initial_state(batch)
    results = []

    def result(check: str, problem: str, status: str | None = None) -> CheckResult:
        return CheckResult(agent_name, "-", "-", check, status or ("FAIL" if problem else "PASS"), problem)

    try:
        with torch.no_grad():
            sequence = agent(obs, is_init, start)[0]
            stepped = _run_steps(agent, obs, is_init, start)
            no_reset = is_init.clone()
            no_reset[reset_at] = False
            without = agent(obs, no_reset, start)[0]
    except Exception as error:
        return [result(check, f"{type(error).__name__}: {error}") for check in SEQUENCE_CHECKS]

    gap = (sequence - stepped).abs().max().item()
    results.append(result("sequence_vs_steps", "" if gap <= TOLERANCE else f"max |sequence - steps| = {gap:.2e}"))
    changed = (sequence[reset_at:, :2] - without[reset_at:, :2]).abs().max().item()
    if agent.has_memory:
        results.append(result("reset_matters", "" if changed > TOLERANCE else "outputs ignore the reset (no memory?)"))
    else:
        problem = "" if changed <= TOLERANCE else f"memoryless agent depends on the past ({changed:.2e})"
        results.append(result("reset_matters", problem, status="n/a" if not problem else None))

    # Gradient from outputs after the reset back to observations before it.
    leak_obs = obs.clone().requires_grad_(True)
    features, _ = agent(leak_obs, is_init, start)
    if not features.requires_grad:
        return [*results, result("no_leak", "features carry no gradient from the observations")]
    features[reset_at:, :2].sum().backward()
    leaked = leak_obs.grad[:reset_at, :2].abs().max().item()
    problems = [] if leaked == 0 else [f"gradient {leaked:.2e} crosses the episode boundary"]
    # And no dependence on the state the sequence started from.
    with torch.no_grad():
        noisy_start = start + torch.randn(start.shape, generator=generator)
        shifted = agent(obs, is_init, noisy_start)[0]
    drift = (shifted[reset_at:, :2] - sequence[reset_at:, :2]).abs().max().item()
    if drift > TOLERANCE:
        problems.append(f"outputs after the reset depend on the initial state ({drift:.2e})")
    results.append(result("no_leak", "; ".join(problems)))
    return results


def run_doctor(agent_names: list[str] | None = None) -> list[CheckResult]:
    """All checks for the named agents (default: every registered one)."""
    results: list[CheckResult] = []
    for name in agent_names or agents.available():
        for head in HEADS:
            for baseline in BASELINES:
                results.extend(check_loss_and_gradients(name, head, baseline))
        results.extend(check_sequence(name))
    return results


def format_table(results: list[CheckResult]) -> str:
    """One row per agent: each check's worst status over heads and baselines."""
    order = {"FAIL": 2, "PASS": 1, "n/a": 0}
    summary: dict[str, dict[str, str]] = {}
    for r in results:
        row = summary.setdefault(r.agent, {})
        if order[r.status] >= order.get(row.get(r.check, "n/a"), 0):
            row[r.check] = r.status
    checks = [*LOSS_CHECKS, *SEQUENCE_CHECKS]
    width = max(len("agent"), *(len(a) for a in summary))
    lines = [f"{'agent':<{width}}  " + "  ".join(f"{c:<17}" for c in checks)]
    for agent_name, row in summary.items():
        lines.append(f"{agent_name:<{width}}  " + "  ".join(f"{row.get(c, '-'):<17}" for c in checks))
    lines.append(f"({len(HEADS)} heads x {len(BASELINES)} baselines per agent for loss and gradients)")
    return "\n".join(lines)


def write_results(path: Path, results: list[CheckResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in dataclasses.fields(CheckResult)])
        writer.writeheader()
        writer.writerows(dataclasses.asdict(r) for r in results)
