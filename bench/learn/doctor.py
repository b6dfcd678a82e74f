"""The gradient doctor: the same correctness checks for every registered agent.

Each check looks for one kind of bug, and its failure names the kind and the
likely cause. For every agent, with every head type and every baseline, on a
small synthetic batch of episodes of different lengths:

- ``loss``: the loss is a finite scalar;
- ``gradients``: every trainable parameter receives a finite, non-zero gradient
  (catches a ``.detach()`` or a numpy round trip in the graph, seed 004);
- ``weights_registered``: every tensor that gets a gradient from the loss is one of
  ``policy.parameters()`` (found by walking the loss's autograd graph): weights kept
  in a plain list or dict are invisible to the optimiser and never train;
- ``weights_trainable``: no parameter of a module that ran in the forward pass has
  ``requires_grad=False`` (frozen weights).

For every agent, on a sequence with an episode reset in the middle, in this
order (a failure marks the checks that would only repeat its symptom ``n/a``,
"not checked"):

- ``deterministic``: the same input twice gives the same output (dropout or
  sampling inside ``forward``);
- ``causal``: the output at t does not change when observations after t do
  (look-ahead);
- ``sequence_vs_steps``: one call over the sequence equals T single-step calls;
- ``reset_matters``: removing the reset changes the outputs after it (agents with
  memory only; memoryless agents report n/a);
- ``no_leak``: outputs after the reset get no gradient from observations before
  it, and do not depend on the state the sequence started from;
- ``through_time``: agents with memory only: within an episode the last output gets
  a gradient from the first observation, and none across an ``is_init`` boundary.

And every path the pipeline can take:

- ``seed_batched``: the agent runs, and backpropagates, vmapped over a stack of
  two parameter sets inside ``matmul_recurrence()``, as seed batches
  (``bench.learn.seed_batch``) run it, with the outputs of plain calls;
- ``cuda``: the same outputs on the GPU as on the CPU (n/a without CUDA).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.func import functional_call, stack_module_state

import agents
from agents.recurrence import matmul_recurrence
from bench.learn.config import BASELINES, RunConfig
from bench.learn.loss import combined_loss
from bench.learn.policy import Policy, build_policy
from bench.learn.rollout import Rollout
from bench.learn.seed_batch import vmap_over_seeds

OBS_DIM = 4
HIDDEN = 16
#: The synthetic batches' time limit (their longest episode is 6 steps), for the critic's clock.
SYNTHETIC_TIME_LIMIT = 8
TOLERANCE = 1e-5
#: The learning rules the loss checks cover, by the name the table gives them: every baseline under
#: REINFORCE, the actor-critic estimator (GAE(lambda) with normalised advantages) that CartPole-P trains with,
#: the critic that reads the elapsed time (``critic_time``, one more input to its torso), and the critic
#: with a recurrent torso of its own (``critic_memory="own"``; the default reads the actor's features).
LOSS_SETUPS: dict[str, dict[str, object]] = {
    **{baseline: {"baseline": baseline} for baseline in BASELINES},
    "critic+gae": {"baseline": "critic", "estimator": "gae", "normalize_returns": True},
    "critic+clock": {"baseline": "critic", "critic_time": True},
    "critic+own": {"baseline": "critic", "critic_memory": "own"},
}

HEADS: dict[str, tuple[spaces.Space, str]] = {
    "categorical": (spaces.Discrete(3), "learned"),
    "gaussian-learned": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "learned"),
    "gaussian-state": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "state"),
    "gaussian-fixed": (spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32), "fixed"),
}
LOSS_CHECKS = ("loss", "gradients", "weights_registered", "weights_trainable")
SEQUENCE_CHECKS = ("deterministic", "causal", "sequence_vs_steps", "reset_matters", "no_leak", "through_time")
PATH_CHECKS = ("seed_batched", "cuda")
#: Seed-batched and CUDA outputs are compared with plain CPU calls to this tolerance
#: (matrix-product recurrences and GPU kernels round differently from the fused CPU ones).
PATH_TOLERANCE = 1e-4


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
    """Build the policy, compute the loss on a synthetic batch, backpropagate. ``baseline``: a key of
    ``LOSS_SETUPS`` (a baseline, ``critic+gae``, ``critic+clock`` or ``critic+own``)."""
    action_space, std_mode = HEADS[head]
    config = RunConfig(agent=agent, std_mode=std_mode, hidden_size=HIDDEN, entropy_coef=0.01, **LOSS_SETUPS[baseline])
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        policy = build_policy(config, _observation_space(), action_space, time_limit=SYNTHETIC_TIME_LIMIT)
    # A non-zero baseline value, as after the first update.
    running_mean = torch.tensor(0.3) if config.baseline == "running_mean" else None
    rollout = synthetic_rollout(policy, generator)
    results = []

    def result(check: str, problem: str) -> CheckResult:
        return CheckResult(agent, head, baseline, check, "FAIL" if problem else "PASS", problem)

    try:
        with _modules_that_run() as ran:
            loss = combined_loss(policy, rollout, config, running_mean)
    except Exception as error:  # a broken agent must be reported, not crash the doctor
        return [result("loss", f"{type(error).__name__}: {error}"),
                *(result(check, "loss failed") for check in LOSS_CHECKS[1:])]
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
    results.append(result("weights_registered", _unregistered_weights(policy, loss, ran)))
    results.append(result("weights_trainable", _frozen_weights(policy, ran)))
    return results


@contextlib.contextmanager
def _modules_that_run() -> Iterator[list[nn.Module]]:
    """Every module whose forward runs in the block, registered anywhere or not (a global hook)."""
    ran: list[nn.Module] = []
    seen: set[int] = set()

    def record(module: nn.Module, args: object, output: object) -> None:
        if id(module) not in seen:  # a cell unrolled over T steps is recorded once
            seen.add(id(module))
            ran.append(module)

    handle = nn.modules.module.register_module_forward_hook(record)
    try:
        yield ran
    finally:
        handle.remove()


def _weight_names(policy: Policy, ran: list[nn.Module]) -> dict[int, str]:
    """id(tensor) -> a readable name: the policy's name for it, else its place in a plain
    list or dict (``agent.layers[0].weight``), else ``ClassName.attribute``."""
    names = {}
    for module in ran:
        for name, parameter in module.named_parameters(recurse=False):
            names[id(parameter)] = f"{type(module).__name__}.{name}"
    for path, module in policy.named_modules():
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or not isinstance(value, (list, tuple, dict)):
                continue
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                place = f"{path}.{attribute}[{key!r}]" if path else f"{attribute}[{key!r}]"
                if isinstance(item, nn.Module):
                    names.update({id(p): f"{place}.{name}" for name, p in item.named_parameters()})
                elif isinstance(item, torch.Tensor):
                    names[id(item)] = place
    names.update({id(p): name for name, p in policy.named_parameters()})
    return names


def _graph_leaves(loss: torch.Tensor) -> list[torch.Tensor]:
    """The tensors the loss's backward would accumulate gradients into (its ``AccumulateGrad`` nodes)."""
    leaves, seen, stack = [], set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            leaves.append(node.variable)
        stack.extend(child for child, _ in node.next_functions)
    return leaves


def _unregistered_weights(policy: Policy, loss: torch.Tensor, ran: list[nn.Module]) -> str:
    registered = {id(p) for p in policy.parameters()}
    names = _weight_names(policy, ran)
    hidden = sorted({f"{names.get(id(t), 'tensor')} {list(t.shape)}" for t in _graph_leaves(loss)
                     if t.requires_grad and id(t) not in registered})
    if not hidden:
        return ""
    return (f"unregistered weights: {', '.join(hidden)} get gradients but are not in policy.parameters(), "
            "so the optimiser never updates them (kept in a plain list/dict? use nn.ModuleList/nn.ParameterList)")


def _frozen_weights(policy: Policy, ran: list[nn.Module]) -> str:
    names = _weight_names(policy, ran)
    frozen = list(dict.fromkeys(names[id(p)] for module in ran for p in module.parameters(recurse=False)
                                if not p.requires_grad))
    if not frozen:
        return ""
    return (f"frozen weights: {', '.join(frozen)} used in the forward pass but requires_grad=False, so they never "
            "train (a leftover requires_grad_(False)? register a constant with register_buffer)")


def _run_steps(agent: agents.Agent, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    outputs = []
    for t in range(obs.shape[0]):
        features, state = agent(obs[t : t + 1], is_init[t : t + 1], state)
        outputs.append(features)
    return torch.cat(outputs)


def _last_line(error: Exception) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1].strip() if lines else ''}"


def check_sequence(agent_name: str) -> list[CheckResult]:
    """Determinism, look-ahead, sequence vs step mode, the reset and leaks across it, gradient through time.

    The checks run in this order, and a failure of ``deterministic`` or ``causal``
    leaves the checks after it ``n/a``: their comparisons would only repeat its
    symptom under another name (a look-ahead agent also differs between sequence and
    step mode, and its outputs before a reset read observations after it).
    """
    steps, batch, reset_at = 8, 3, 4
    generator = torch.Generator().manual_seed(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        agent = agents.make_agent(agent_name, OBS_DIM, HIDDEN)
        return _sequence_checks(agent_name, agent, generator, steps, batch, reset_at)


def _sequence_checks(agent_name: str, agent: agents.Agent, generator: torch.Generator, steps: int, batch: int,
                     reset_at: int) -> list[CheckResult]:
    obs = torch.randn(steps, batch, OBS_DIM, generator=generator)
    is_init = torch.zeros(steps, batch, dtype=torch.bool)
    is_init[0] = True
    is_init[reset_at, :2] = True  # two of three columns restart mid-sequence
    start = agent.initial_state(batch)
    results = []

    def result(check: str, problem: str, status: str | None = None) -> CheckResult:
        return CheckResult(agent_name, "-", "-", check, status or ("FAIL" if problem else "PASS"), problem)

    def not_checked(after: str, kind: str) -> list[CheckResult]:
        rest = SEQUENCE_CHECKS[SEQUENCE_CHECKS.index(after) + 1 :]
        return [*results, *(result(check, f"not checked: {kind} (see {after})", status="n/a") for check in rest)]

    try:
        with torch.no_grad():
            sequence = agent(obs, is_init, start)[0]
            again = agent(obs, is_init, start)[0]
            changed_at = _look_ahead(agent, obs, is_init, start, sequence, generator)
            stepped = _run_steps(agent, obs, is_init, start)
            no_reset = is_init.clone()
            no_reset[reset_at] = False
            without = agent(obs, no_reset, start)[0]
    except Exception as error:
        return [result(check, f"{type(error).__name__}: {error}") for check in SEQUENCE_CHECKS]

    noise = (again - sequence).abs().max().item()
    if noise > 0:
        results.append(result("deterministic", f"randomness in forward: the same input gave outputs {noise:.2e} apart "
                              "(dropout active, or sampling inside forward? forward must be a function of its inputs; "
                              "actions are sampled by the head)"))
        return not_checked("deterministic", "randomness in forward")
    results.append(result("deterministic", ""))
    if changed_at is not None:
        t, change = changed_at
        results.append(result("causal", f"look-ahead: output at t depends on observations after t (output at t={t} "
                              f"changed by {change:.2e} when obs[{t + 1}:] changed; a shift/roll the wrong way, a "
                              "bidirectional layer or a statistic over the whole sequence?)"))
        return not_checked("causal", "look-ahead")
    results.append(result("causal", ""))

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
    try:
        features, _ = agent(leak_obs, is_init, start)
        if not features.requires_grad:
            problem = "features carry no gradient from the observations"
            return [*results, result("no_leak", problem), result("through_time", problem)]
        features[reset_at:, :2].sum().backward()
    except Exception as error:
        problem = f"backward failed: {_last_line(error)}"
        return [*results, result("no_leak", problem), result("through_time", problem)]
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
    results.append(_through_time(agent_name, agent, generator))
    return results


def _look_ahead(agent: agents.Agent, obs: torch.Tensor, is_init: torch.Tensor, start: torch.Tensor,
                sequence: torch.Tensor, generator: torch.Generator) -> tuple[int, float] | None:
    """The first t whose output changes when ``obs[t+1:]`` does, and by how much; None if none does."""
    for t in range(obs.shape[0] - 1):
        perturbed = obs.clone()
        perturbed[t + 1 :] += torch.randn(perturbed[t + 1 :].shape, generator=generator)
        change = (agent(perturbed, is_init, start)[0][: t + 1] - sequence[: t + 1]).abs().max().item()
        if change > TOLERANCE:
            return t, change
    return None


def _through_time(agent_name: str, agent: agents.Agent, generator: torch.Generator) -> CheckResult:
    """Memory agents: d features[-1] / d obs[0] != 0 within an episode, == 0 across a reset.

    Two columns of 5 steps: column 0 is one episode, column 1 restarts at t = 3. Five
    steps, so that an agent with a window of the last 5 observations sees obs[0].
    """
    def result(problem: str, status: str | None = None) -> CheckResult:
        return CheckResult(agent_name, "-", "-", "through_time", status or ("FAIL" if problem else "PASS"), problem)

    if not agent.has_memory:
        return result("", status="n/a")
    steps, reset_at = 5, 3
    obs = torch.randn(steps, 2, OBS_DIM, generator=generator).requires_grad_(True)
    is_init = torch.zeros(steps, 2, dtype=torch.bool)
    is_init[0] = True
    is_init[reset_at, 1] = True
    try:
        features, _ = agent(obs, is_init, agent.initial_state(2))
        within = torch.autograd.grad(features[-1, 0].sum(), obs, retain_graph=True, allow_unused=True)[0]
        across = torch.autograd.grad(features[-1, 1].sum(), obs, allow_unused=True)[0]
    except Exception as error:
        return result(f"backward failed: {_last_line(error)}")
    problems = []
    if within is None or within[0, 0].abs().max() == 0:
        problems.append("no gradient through time: the hidden state is detached between steps "
                        f"(d features[{steps - 1}] / d obs[0] = 0 within one episode; a .detach() or .data on the "
                        "carried state?)")
    leaked = 0.0 if across is None else across[:reset_at, 1].abs().max().item()
    if leaked != 0:
        problems.append(f"gradient crosses the episode boundary: d features[{steps - 1}] / d obs[:{reset_at}] = "
                        f"{leaked:.2e} with is_init at t={reset_at} (the state is not reset before obs[{reset_at}]; "
                        "use agents.base.reset_where)")
    return result("; ".join(problems))


def check_paths(agent_name: str) -> list[CheckResult]:
    """The seed-batched (vmap) path and CUDA: the agent runs there with the outputs of plain CPU calls."""
    steps, batch = 6, 3
    generator = torch.Generator().manual_seed(2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        copies = [agents.make_agent(agent_name, OBS_DIM, HIDDEN) for _ in range(2)]
    obs = torch.randn(2, steps, batch, OBS_DIM, generator=generator)
    is_init = torch.zeros(steps, batch, dtype=torch.bool)
    is_init[0] = True
    is_init[3, 0] = True
    return [_seed_batched(agent_name, copies, obs, is_init), _cuda(agent_name, copies[0], obs[0], is_init)]


def _seed_batched(agent_name: str, copies: list[agents.Agent], obs: torch.Tensor,
                  is_init: torch.Tensor) -> CheckResult:
    """vmap over two stacked parameter sets, as ``bench.learn.seed_batch.SeedBatch`` runs the policy."""
    def result(problem: str) -> CheckResult:
        return CheckResult(agent_name, "-", "-", "seed_batched", "FAIL" if problem else "PASS", problem)

    try:
        with torch.no_grad():
            expected = torch.stack([agent(o, is_init, agent.initial_state(o.shape[1]))[0]
                                    for agent, o in zip(copies, obs)])
        skeleton = copy.deepcopy(copies[0]).to("meta")
        params, buffers = stack_module_state(copies)
        state = torch.stack([agent.initial_state(obs.shape[2]) for agent in copies])

        def one_seed(params, buffers, obs, state):
            return functional_call(skeleton, (params, buffers), (obs, is_init, state), tie_weights=False)[0]

        with matmul_recurrence():
            features = vmap_over_seeds(one_seed, (0, 0, 0, 0), params, buffers, obs, state)
            trainable = [p for p in params.values() if p.requires_grad]
            if trainable:
                torch.autograd.grad(features.square().sum(), trainable, allow_unused=True)
    except Exception as error:  # one line: the path and the error's last line
        return result(f"{agent_name}: fails on the seed-batched (vmap) path: {_last_line(error)}; "
                      "use agents/recurrence.py's layers for nn.GRU/nn.LSTM")
    gap = (features.detach() - expected).abs().max().item()
    if gap > PATH_TOLERANCE:
        return result(f"{agent_name}: the seed-batched (vmap) path gives other outputs than plain calls "
                      f"(max difference {gap:.2e}); every weight must be a registered parameter or buffer, "
                      "and recurrent layers must use agents/recurrence.py's")
    return result("")


def _cuda(agent_name: str, agent: agents.Agent, obs: torch.Tensor, is_init: torch.Tensor) -> CheckResult:
    """The agent on the GPU, forward and backward, against the CPU; n/a without CUDA."""
    if not torch.cuda.is_available():
        return CheckResult(agent_name, "-", "-", "cuda", "n/a", "skipped: torch.cuda.is_available() is False")

    def result(problem: str) -> CheckResult:
        return CheckResult(agent_name, "-", "-", "cuda", "FAIL" if problem else "PASS", problem)

    try:
        with torch.no_grad():
            expected = agent(obs, is_init, agent.initial_state(obs.shape[1]))[0]
        gpu = copy.deepcopy(agent).to("cuda")
        device_obs, device_init = obs.to("cuda"), is_init.to("cuda")
        features = gpu(device_obs, device_init, gpu.initial_state(obs.shape[1], "cuda"))[0]
        if features.requires_grad:
            features.square().sum().backward()
    except Exception as error:
        return result(f"{agent_name}: fails on CUDA: {_last_line(error)} (tensors made inside forward or "
                      "initial_state must use obs.device / the device argument)")
    gap = (features.detach().cpu() - expected).abs().max().item()
    return result("" if gap <= PATH_TOLERANCE else f"{agent_name}: CUDA outputs differ from the CPU's by {gap:.2e}")


def run_doctor(agent_names: list[str] | None = None) -> list[CheckResult]:
    """All checks for the named agents (default: every registered one)."""
    results: list[CheckResult] = []
    for name in agent_names or agents.available():
        for head in HEADS:
            for baseline in LOSS_SETUPS:
                results.extend(check_loss_and_gradients(name, head, baseline))
        sequence = check_sequence(name)
        results.extend(sequence)
        # Other paths would only repeat these symptoms: vmap refuses random operations, and
        # weights outside parameters() are shared by every seed of a batch and stay on the CPU.
        root = next((r for r in results if r.agent == name and r.status == "FAIL"
                     and r.check in ("weights_registered", "deterministic")), None)
        if root is None:
            results.extend(check_paths(name))
        else:
            kind = "unregistered weights" if root.check == "weights_registered" else "randomness in forward"
            results.extend(CheckResult(name, "-", "-", check, "n/a", f"not checked: {kind} (see {root.check})")
                           for check in PATH_CHECKS)
    return results


def format_table(results: list[CheckResult]) -> str:
    """One row per check, one column per agent: the check's worst status over heads and baselines."""
    order = {"FAIL": 2, "PASS": 1, "n/a": 0}
    summary: dict[str, dict[str, str]] = {}
    for r in results:
        column = summary.setdefault(r.agent, {})
        if order[r.status] >= order.get(column.get(r.check, "n/a"), 0):
            column[r.check] = r.status
    checks = [*LOSS_CHECKS, *SEQUENCE_CHECKS, *PATH_CHECKS]
    check_width = max(len("check"), *(len(c) for c in checks))
    widths = {a: max(len(a), 4) for a in summary}
    lines = [f"{'check':<{check_width}}  " + "  ".join(f"{a:<{widths[a]}}" for a in summary)]
    for check in checks:
        lines.append(f"{check:<{check_width}}  " + "  ".join(f"{summary[a].get(check, '-'):<{widths[a]}}"
                                                              for a in summary))
    lines.append(f"({len(HEADS)} heads x {len(LOSS_SETUPS)} baselines and estimators per agent for "
                 f"{', '.join(LOSS_CHECKS)})")
    return "\n".join(lines)


def write_results(path: Path, results: list[CheckResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in dataclasses.fields(CheckResult)])
        writer.writeheader()
        writer.writerows(dataclasses.asdict(r) for r in results)
