"""Seed-batched training: S runs that differ only in their seed, in one process.

The learning rule is the one of ``bench.learn.train`` (complete episodes, the same
loss, actor and critic clipped separately, Adam); what changes is the layout:

- parameters of the S policies are stacked along a leading seed axis
  (``torch.func.stack_module_state``) and every pass is ``vmap(functional_call)``,
  so each layer becomes one batched matrix product over seeds;
- recurrent layers run as matrix products (``agents.recurrence``), as ``nn.GRU``
  has no batching rule;
- environments are the torch-native twins, stepped as one ``[S, B, ...]`` batch;
- every random number is counter-based (``bench.learn.counter_rng``), addressed by
  ``(seed's key, update, step, element)``, so a seed's run does not depend on
  which other seeds share its batch (``tests/test_seed_batch.py``);
- Adam (``bench.learn.optim.StackedAdam``) runs on the stacked tensors; it is elementwise, so per-seed semantics
  hold, and gradient norms are clipped per seed.

Seeds whose budget is spent (or that diverged) are frozen: their parameters,
optimiser state and baseline stop changing while the others finish.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import time
from typing import Any, Callable

import pandas as pd
import torch
from gymnasium import spaces
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.utils._pytree import tree_leaves, tree_map

from agents.recurrence import matmul_recurrence
from bench.learn import counter_rng
from bench import envs as bench_envs
from bench.learn.allocator import keep_freed_memory
from bench.learn.common import (RunResult, Streams, TrainingDiverged, configure_determinism, episode_summary,
                                run_identity, seeded_policy, select_device)
from bench.learn.config import RunConfig
from bench.learn.optim import StackedAdam
from bench.envs.torch_native import STATE_DTYPE, TorchEnv, make_torch_env
from bench.learn.loss import RunningMeanBaseline, advantage_moments, column_chunks, policy_gradient_loss
from bench.learn.policy import Policy
from bench.learn.rollout import Rollout

# While acting, the computed seeds are reselected (and their parameters gathered again)
# once the live ones drop to this fraction of them: seeds end one at a time, and
# regathering every layer for each would cost more than computing a few ended seeds.
RESELECT_FRACTION = 0.75
LOSS_TERMS = ("total", "policy", "value", "entropy", "baseline", "return_mean")
TERM_COLUMNS = {"total": "loss", "policy": "policy_loss", "value": "value_loss", "entropy": "entropy",
                "baseline": "baseline_mean"}


def check_batchable(configs: list[RunConfig]) -> None:
    """Seed batches share everything but the seed, and need the torch backend."""
    if not configs:
        raise ValueError("a seed batch needs at least one configuration")
    first = dataclasses.replace(configs[0], seed=0)
    for config in configs:
        if dataclasses.replace(config, seed=0) != first:
            raise ValueError(f"configurations of a seed batch may differ only in seed; got {config} and {configs[0]}")
    seeds = [config.seed for config in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds of a batch must be distinct, got {seeds}")
    if first.backend != "torch":
        raise ValueError(f"seed-batched training needs backend 'torch', got {first.backend!r}")


def clip_per_seed(grads: dict[str, torch.Tensor], max_norm: float) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Clip the actor's and the critic's gradients separately, per seed (as ``clip_grad_norm_``).

    Returns the clipped gradients and the actor's norm before clipping ``[S]``.
    """
    def norm(names: list[str]) -> torch.Tensor:
        # Summed parameter by parameter, elementwise over seeds: a reduction over a stacked
        # [parameters, S] tensor takes another summation order when S = 1.
        first = grads[names[0]]
        total = first.new_zeros(first.shape[0])
        for name in names:
            total = total + grads[name].flatten(1).square().sum(1)
        return total.sqrt()

    groups = [[n for n in grads if not n.startswith("critic.")], [n for n in grads if n.startswith("critic.")]]
    clipped = dict(grads)
    actor_norm = norm(groups[0])
    for names in groups:
        if not names:
            continue
        total = actor_norm if names is groups[0] else norm(names)
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for name in names:
            clipped[name] = grads[name] * coef.reshape((-1,) + (1,) * (grads[name].dim() - 1))
    return clipped, actor_norm


class _LossModule(nn.Module):
    """The loss as a module, so that ``functional_call`` can swap in one seed's parameters."""

    def __init__(self, policy: Policy, config: RunConfig) -> None:
        super().__init__()
        self.policy = policy
        self.config = config

    def forward(self, rollout: Rollout, running_mean: torch.Tensor | None,
                moments: tuple[torch.Tensor, torch.Tensor] | None, columns: slice | None) -> tuple[torch.Tensor, ...]:
        terms = policy_gradient_loss(self.policy, rollout, self.config, running_mean, columns, moments)
        return tuple(getattr(terms, name) for name in LOSS_TERMS)


class _MomentsModule(_LossModule):
    """The whole batch's advantage moments, for the parts of a split update (same parameter names)."""

    def forward(self, rollout: Rollout, running_mean: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        return advantage_moments(self.policy, rollout, self.config, running_mean)


class SeedBatch:
    """S policies as stacked tensors, with vmapped acting and loss-gradient functions."""

    def __init__(self, policies: list[Policy], config: RunConfig, max_steps: int, device: torch.device) -> None:
        self.config = config
        self.max_steps = max_steps  # the environment's time limit, the longest possible episode
        self.device = device
        self.skeleton = copy.deepcopy(policies[0]).to("meta")
        params, buffers = stack_module_state(policies)
        self.params = {name: p.detach().to(device) for name, p in params.items()}
        self.buffers = {name: b.to(device) for name, b in buffers.items()}
        self.loss_module = _LossModule(self.skeleton, config)
        self.moments_module = _MomentsModule(self.skeleton, config)
        self.head = self.skeleton.action_head
        # (indices, the parameters they were gathered from, gathered parameters, gathered buffers)
        self._subset: tuple[torch.Tensor, dict, dict, dict] | None = None

    @property
    def seeds(self) -> int:
        return next(iter(self.params.values())).shape[0]

    def act(self, obs: torch.Tensor, state: torch.Tensor, is_init: torch.Tensor, noise: torch.Tensor | None,
            seeds: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step for the seeds ``seeds`` (indices ``[K]``; all S when None).

        obs: [K, B, obs_dim], state: [K, B, ...], noise: [K, B, noise_size].
        Returns actions [K, B(, action_dim)] and the next state [K, B, ...].
        """
        def one_seed(params, buffers, obs, state, noise):
            out = functional_call(self.skeleton, (params, buffers), (obs[None], is_init, state), tie_weights=False)
            action = self.head.mode(out.dist) if noise is None else self.head.sample_with_noise(out.dist, noise[None])
            return action[0], out.state

        params, buffers = self.params, self.buffers
        if seeds is not None:
            # Collection asks for the same subset many steps in a row: gather the parameters once.
            if self._subset is None or self._subset[0] is not seeds or self._subset[1] is not params:
                self._subset = (seeds, params, {name: p[seeds] for name, p in params.items()},
                                {name: b[seeds] for name, b in buffers.items()})
            params, buffers = self._subset[2:]
        with torch.no_grad(), matmul_recurrence():
            in_dims = (0, 0, 0, 0, None if noise is None else 0)
            return vmap_over_seeds(one_seed, in_dims, params, buffers, obs, state, noise)

    def gradients(self, rollout: Rollout, running_mean: torch.Tensor | None,
                  active: torch.Tensor) -> tuple[dict, dict[str, torch.Tensor]]:
        """Per-seed gradients of the loss ``{name: [S, ...]}`` and its terms ``[S]``.

        Rollout tensors are ``[S, T(+1), B, ...]`` except ``is_init``, which all
        seeds share. Seeds are grouped by the padded length of their own longest
        episode (``padded_length``) and each group's gradients are one vmapped
        call. A seed's arithmetic then has the same shapes whichever seeds share
        its batch (batched matrix products round each seed's slice as a matrix
        product alone would), so its gradient is the same bit for bit; a shared
        padding to the batch's longest episode would not be. Inactive seeds get
        zeros.
        """
        def call(module, params, buffers, obs, actions, rewards, terminated, truncated, valid, is_init, *args):
            prefixed = ({f"policy.{k}": v for k, v in params.items()}, {f"policy.{k}": v for k, v in buffers.items()})
            one = Rollout(obs, is_init, actions, rewards, terminated, truncated, valid)
            return functional_call(module, prefixed, (one, *args), tie_weights=False)

        in_dims = (0, 0, 0, 0, 0, 0, 0, 0, None, None if running_mean is None else 0)
        grads = {name: torch.zeros_like(p) for name, p in self.params.items()}
        terms = {name: torch.zeros(self.seeds, device=self.device) for name in LOSS_TERMS}
        lengths = rollout.valid.sum(1).amax(1).clamp_min(1).tolist()  # [S] longest episode of each seed
        groups: dict[int, list[int]] = {}
        for s in torch.nonzero(active).flatten().tolist():
            groups.setdefault(padded_length(lengths[s], self.max_steps), []).append(s)
        for steps, members in groups.items():
            index = torch.tensor(members, device=self.device)
            part = _time_slice(rollout, index, steps)
            baseline = None if running_mean is None else running_mean[index]
            params = {k: v[index].requires_grad_() for k, v in self.params.items()}
            buffers = {k: v[index] for k, v in self.buffers.items()}
            inputs = (params, buffers, part.obs, part.actions, part.rewards, part.terminated, part.truncated,
                      part.valid, part.is_init, baseline)
            chunks = column_chunks(steps, part.rewards.shape[2], self.skeleton.agent.max_loss_rows)
            moments = None
            if len(chunks) > 1 and self.config.normalize_returns:  # once per group, shared by its parts
                with matmul_recurrence():
                    moments = vmap_over_seeds(functools.partial(call, self.moments_module), in_dims, *inputs)
            for columns in chunks:
                with torch.enable_grad(), matmul_recurrence():
                    chunk_terms = vmap_over_seeds(lambda *a: call(self.loss_module, *a, columns),
                                                  in_dims + (None if moments is None else 0,), *inputs, moments)
                    # Seeds share no parameters: the gradient of the sum is each seed's own gradient.
                    chunk_grads = torch.autograd.grad(chunk_terms[0].sum(), list(params.values()))
                for name, value in zip(params, chunk_grads):
                    grads[name][index] += value
                for i, name in enumerate(LOSS_TERMS):
                    terms[name][index] += chunk_terms[i].detach()
        return grads, terms


def vmap_over_seeds(function: Callable, in_dims: tuple[int | None, ...], *args: Any) -> Any:
    """``vmap(function, in_dims)(*args)`` over the seed axis, computed with at least two seeds.

    vmap over a single seed runs unbatched kernels, and some of them round
    differently from their batched form (a linear layer with one output becomes a
    matrix-vector product). From two seeds on, every seed's slice goes through
    the same batched kernels whatever the batch, so a lone seed is computed
    twice and the copy dropped.
    """
    batched = [arg for arg, dim in zip(args, in_dims) if dim is not None]
    if tree_leaves(batched)[0].shape[0] > 1:
        return vmap(function, in_dims=in_dims)(*args)
    doubled = [arg if dim is None else tree_map(lambda x: torch.cat([x, x]), arg) for arg, dim in zip(args, in_dims)]
    return tree_map(lambda x: x[:1], vmap(function, in_dims=in_dims)(*doubled))


def padded_length(longest: int, limit: int) -> int:
    """Time steps a seed's gradient is computed over, a function of its own longest episode only.

    Rounded up to two significant bits (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48,
    ...), capped at the time limit: fine enough to waste little arithmetic,
    coarse enough that seeds share a few vmapped calls (a recurrent agent pays
    its per-step overhead once per call). Measured on CartPole at S = 64, this
    beat both powers of two and three significant bits.
    """
    quantum = 1 << max(longest.bit_length() - 2, 0)
    return min(-(-longest // quantum) * quantum, limit)


def _time_slice(rollout: Rollout, index: torch.Tensor, steps: int) -> Rollout:
    """Seeds ``index`` of a batched rollout, cut or zero-padded (masked) to ``steps`` time steps."""
    def fit(tensor: torch.Tensor, length: int, time_dim: int) -> torch.Tensor:
        tensor = tensor.narrow(time_dim, 0, min(length, tensor.shape[time_dim]))
        missing = length - tensor.shape[time_dim]
        if missing == 0:
            return tensor
        shape = list(tensor.shape)
        shape[time_dim] = missing
        return torch.cat([tensor, tensor.new_zeros(shape)], time_dim)

    return Rollout(obs=fit(rollout.obs[index], steps + 1, 1), is_init=fit(rollout.is_init, steps + 1, 0),
                   actions=fit(rollout.actions[index], steps, 1), rewards=fit(rollout.rewards[index], steps, 1),
                   terminated=fit(rollout.terminated[index], steps, 1),
                   truncated=fit(rollout.truncated[index], steps, 1), valid=fit(rollout.valid[index], steps, 1))


def collect(env: TorchEnv, batch: SeedBatch, keys: dict[str, torch.Tensor], update: int, num_envs: int,
            active: torch.Tensor, evaluation: bool = False) -> Rollout:
    """One complete episode per environment for every seed: tensors ``[S, T(+1), B, ...]``.

    All ``S x B`` environments start together; an environment stops (its state is
    frozen, later steps masked) once its episode ends, and collection stops when
    every environment of every ``active`` seed has ended. Draws are addressed by
    each seed's keys (``env``, ``actions``, ``eval_env``: ``[S]``) and
    ``(update, step)``, never by position in the batch. ``evaluation`` takes the
    distributions' modes and fresh starts from the ``eval_env`` keys.
    """
    device, seeds = batch.device, batch.seeds
    reset_keys = keys["eval_env"] if evaluation else keys["env"]
    uniforms = counter_rng.uniform(reset_keys, (update,), (num_envs, env.reset_draws), STATE_DTYPE)
    state = env.reset_state(uniforms)
    obs = env.observe(state)
    policy_state = torch.stack([batch.skeleton.initial_state(num_envs, "cpu")] * seeds).to(device)
    box = isinstance(env.action_space, spaces.Box)
    if box:
        low = torch.as_tensor(env.action_space.low, device=device)
        high = torch.as_tensor(env.action_space.high, device=device)
    running = active[:, None].expand(seeds, num_envs).clone()
    first, later = (torch.full((1, num_envs), value, dtype=torch.bool, device=device) for value in (True, False))
    obs_seq, actions, rewards, terminated, truncated, valid = [obs], [], [], [], [], []
    draw = counter_rng.uniform if batch.head.noise_kind == "uniform" else counter_rng.normal
    step = 0
    action_keys = counter_rng.mix(keys["actions"], update)  # draws at (update, step) = at (step,) from these
    stepping: torch.Tensor | None = None  # the seeds computed (None: all of them), a superset of the live ones
    while bool(running.any()):
        alive = running.any(1)
        if int(alive.sum()) <= RESELECT_FRACTION * (seeds if stepping is None else len(stepping)):
            stepping = torch.nonzero(alive).flatten()
        # Only those seeds are computed (the others' actions are never used), and a
        # seed's draws do not depend on which others are computed with it.
        pick = (lambda x: x) if stepping is None else (lambda x: x[stepping])
        noise = None
        if not evaluation:
            noise = draw(pick(action_keys), (step,), (num_envs, batch.head.noise_size))
        action, next_policy_state = batch.act(pick(obs), pick(policy_state), first if step == 0 else later, noise,
                                              stepping)
        if stepping is not None:
            action = action.new_zeros((seeds, *action.shape[1:])).index_copy_(0, stepping, action)
            next_policy_state = policy_state.index_copy(0, stepping, next_policy_state)
        policy_state = next_policy_state
        env_action = torch.clamp(action, low, high) if box else action
        next_state, reward, term = env.step(state, env_action)
        trunc = torch.full_like(term, step + 1 >= env.max_episode_steps) & ~term
        # Ended environments stay frozen (finite, masked) until the whole batch is done.
        state = torch.where(running[..., None], next_state, state)
        obs = env.observe(state)
        obs_seq.append(obs)
        actions.append(action)
        rewards.append(torch.where(running, reward, torch.zeros_like(reward)).to(torch.float32))
        terminated.append(term & running)
        truncated.append(trunc & running)
        valid.append(running)
        running = running & ~(term | trunc)
        step += 1
    is_init = torch.zeros(step + 1, num_envs, dtype=torch.bool, device=device)
    is_init[0] = True
    return Rollout(obs=torch.stack(obs_seq, 1), is_init=is_init, actions=torch.stack(actions, 1),
                   rewards=torch.stack(rewards, 1), terminated=torch.stack(terminated, 1),
                   truncated=torch.stack(truncated, 1), valid=torch.stack(valid, 1))


def episode_stats(rollout: Rollout, success_score: float) -> list[dict[str, float]]:
    """Per-seed statistics of a batched rollout, as ``bench.learn.train`` logs them.

    One transfer to the host, then NumPy per seed: a reduction over ``[S, B]``
    would round differently with the batch size, and the tables must not depend
    on which seeds shared a job.
    """
    returns = (rollout.rewards * rollout.valid).sum(1).double().cpu().numpy()  # [S, B]
    lengths = rollout.valid.sum(1).double().cpu().numpy()
    return [episode_summary(row, length, success_score) for row, length in zip(returns, lengths)]


def _first_non_finite(terms: dict[str, torch.Tensor], grad_norm: torch.Tensor) -> list[str | None]:
    """Per seed, the name of the first NaN/inf loss term or gradient norm (None when all finite)."""
    named = [(TERM_COLUMNS[n], terms[n]) for n in ("policy", "value", "entropy", "total")] + [("grad_norm", grad_norm)]
    values = torch.stack([value for _, value in named], 1).cpu()  # [S, k]
    problems = []
    for row in values:
        bad = [(name, float(v)) for (name, _), v in zip(named, row) if not math.isfinite(float(v))]
        problems.append(f"{bad[0][0]} is {bad[0][1]}" if bad else None)
    return problems


def build_seed_batch(configs: list[RunConfig], device: torch.device
                     ) -> tuple[TorchEnv, SeedBatch, dict[str, torch.Tensor]]:
    """The environment, the stacked policies (weights from each seed's init stream) and the
    per-seed random keys (``env``, ``actions``, ``eval_env``: ``[S]``) of a seed batch."""
    config = configs[0]
    env = make_torch_env(config.env)
    streams = [Streams.from_seed(c.seed) for c in configs]
    policies = [seeded_policy(c, env.observation_space, env.action_space, s.init, torch.device("cpu"))
                for c, s in zip(configs, streams)]
    keys = {name: counter_rng.seed_keys([getattr(s, name) for s in streams], device)
            for name in ("env", "actions", "eval_env")}
    return env, SeedBatch(policies, config, env.max_episode_steps, device), keys


def train_seed_batch(configs: list[RunConfig]) -> list[Any]:
    """Train the runs of ``configs`` (validated, resolved, differing only in seed) as one batch.

    Returns, per config in order, a ``bench.learn.train.RunResult`` or the
    ``bench.learn.train.TrainingDiverged`` of that seed (with its partial metrics).
    """
    check_batchable(configs)
    config = configs[0]
    if config.steps <= 0:
        raise ValueError("train_seed_batch() needs a resolved step budget (config.steps > 0)")
    device = select_device(config.device)
    configure_determinism(device)
    keep_freed_memory()  # a batch's tensors are megabytes, reallocated every step
    spec = bench_envs.spec_for(config.env)
    env, batch, keys = build_seed_batch(configs, device)
    seeds = batch.seeds
    optimiser = StackedAdam(batch.params, config.lr)
    running_mean = (RunningMeanBaseline(config.baseline_rate, (seeds,), device)
                    if config.baseline == "running_mean" else None)
    max_norm = config.max_grad_norm if config.max_grad_norm > 0 else math.inf

    active = torch.ones(seeds, dtype=torch.bool, device=device)
    env_steps = torch.zeros(seeds, dtype=torch.long, device=device)
    rows: list[list[dict[str, Any]]] = [[] for _ in configs]
    failures: dict[int, str] = {}
    updates = [0] * seeds
    update, start = 0, time.perf_counter()
    while bool(active.any()):
        rollout = collect(env, batch, keys, update, config.num_envs, active)
        grads, terms = batch.gradients(rollout, running_mean.value if running_mean else None, active)
        grads, grad_norm = clip_per_seed(grads, max_norm)
        problems = _first_non_finite(terms, grad_norm)
        diverged = torch.tensor([p is not None for p in problems], device=device) & active
        stepping = active & ~diverged
        batch.params = optimiser.step(batch.params, grads, update + 1, stepping)
        if running_mean is not None:
            running_mean.update(terms["return_mean"], stepping)

        lengths = rollout.valid.sum(1).sum(1)  # [S]
        env_steps = torch.where(stepping, env_steps + lengths, env_steps)
        stats = episode_stats(rollout, spec.success_score)
        columns = {**{TERM_COLUMNS[n]: terms[n].double() for n in TERM_COLUMNS}, "grad_norm": grad_norm.double()}
        table = torch.stack(list(columns.values()), 1).cpu().tolist()  # one transfer per update
        steps_now, was_active, wall = env_steps.cpu().tolist(), active.cpu().tolist(), time.perf_counter() - start
        episodes = 0
        for s in range(seeds):
            if not was_active[s]:
                continue
            if problems[s] is not None:
                failures[s] = f"update {update}: {problems[s]} (not finite)"
                continue
            values = dict(zip(columns, table[s]))
            episodes = (rows[s][-1]["episodes_total"] if rows[s] else 0) + int(stats[s]["episodes"])
            rows[s].append({"phase": "train", "update": update, "env_steps": steps_now[s], "episodes_total": episodes,
                            "wall_time": wall, **stats[s], **values})
            updates[s] = update + 1
        active = stepping & (env_steps < config.steps)
        update += 1
    train_seconds = time.perf_counter() - start

    everyone = torch.ones(seeds, dtype=torch.bool, device=device)
    final = episode_stats(collect(env, batch, keys, 0, config.eval_episodes, everyone, evaluation=True),
                          spec.success_score)
    total_steps = sum(r[-1]["env_steps"] for r in rows if r)
    parameters = sum(p[0].numel() for p in batch.params.values())
    outcomes: list[Any] = []
    for s, run_config in enumerate(configs):
        metrics = pd.DataFrame(rows[s])
        if s in failures:
            error = TrainingDiverged(failures[s])
            error.metrics = metrics
            outcomes.append(error)
            continue
        evaluation = final[s]
        last = rows[s][-1]
        eval_row = {"phase": "eval", "update": last["update"], "env_steps": last["env_steps"],
                    "episodes_total": last["episodes_total"], "wall_time": time.perf_counter() - start, **evaluation}
        info = {
            **run_identity(run_config, device),
            "status": "finished",
            "parameters": parameters,
            "updates": updates[s],
            "env_steps": last["env_steps"],
            "train_seconds": train_seconds,
            "wall_seconds": time.perf_counter() - start,
            "steps_per_second": last["env_steps"] / train_seconds if train_seconds > 0 else math.nan,
            "seed_batch": [c.seed for c in configs],
            "batch_steps_per_second": total_steps / train_seconds if train_seconds > 0 else math.nan,
            "final_score": evaluation["return_mean"],
            "final_success_rate": evaluation["success_rate"],
            "normalised_score": spec.normalise(evaluation["return_mean"]),
        }
        outcomes.append(RunResult(pd.concat([metrics, pd.DataFrame([eval_row])], ignore_index=True), info))
    return outcomes
