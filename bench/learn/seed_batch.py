"""Seed-batched training: S runs that differ only in their seed, in one process.

The learning rule is ``bench.learn.update``'s, as for single runs (complete
episodes, the same losses, the same steps); what changes is the layout:

- parameters of the S policies are stacked along a leading seed axis
  (``torch.func.stack_module_state``) and every pass is ``vmap(functional_call)``,
  so each layer becomes one batched matrix product over seeds;
- recurrent layers run as matrix products (``agents.recurrence``), as ``nn.GRU``
  has no batching rule;
- environments are the torch-native twins, stepped as one ``[S, B, ...]`` batch;
- every random number is counter-based (``bench.learn.counter_rng``), addressed by
  ``(seed's key, update, step, element)``, so a seed's run does not depend on
  which other seeds share its batch (``tests/test_seed_batch.py``);
- the learning rule's Adam and clipping work on stacked tensors per seed, as they
  do for a single run (a stack of one).

Seeds whose budget is spent (or that diverged) are frozen: their parameters,
optimiser state and baseline stop changing while the others finish.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, Callable

import torch
from gymnasium import spaces
from torch.func import functional_call, stack_module_state, vmap
from torch.utils._pytree import tree_leaves, tree_map

from agents.recurrence import matmul_recurrence
from bench.learn import counter_rng
from bench import envs as bench_envs
from bench.learn.allocator import keep_freed_memory
from bench.learn.common import (RunResult, Streams, TrainingDiverged, configure_determinism, episode_summary,
                                run_identity, seeded_policy, select_device)
from bench.learn.config import RunConfig
from bench.envs.torch_native import STATE_DTYPE, TorchEnv, make_torch_env
from bench.learn.loss import (POLICY_TERMS, Bound, advantage_moments, column_chunks, policy_gradient_loss,
                              targets_and_moments, value_loss)
from bench.learn.update import Scale, is_critic, train_runs
from bench.learn.policy import Policy
from bench.learn.rollout import Rollout

# While acting, the computed seeds are reselected (and their parameters gathered again)
# once the live ones drop to this fraction of them: seeds end one at a time, and
# regathering every layer for each would cost more than computing a few ended seeds.
RESELECT_FRACTION = 0.75


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
        self.head = self.skeleton.action_head
        # (indices, the parameters they were gathered from, gathered parameters, gathered buffers)
        self._subset: tuple[torch.Tensor, dict, dict, dict] | None = None
        self._group_cache: tuple[Rollout, tuple[int, ...], list] | None = None

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

    def _vmapped(self, function: Callable[..., Any], index: torch.Tensor, part: Rollout, names: list[str],
                 seed_args: tuple[Any, ...]) -> tuple[Any, dict[str, torch.Tensor]]:
        """``function(policy, one seed's rollout, *its seed_args)`` for the seeds ``index``, vmapped.

        Returns its outputs ``[K, ...]`` and, when ``names`` is not empty, the gradients
        of their first output's sum with respect to those parameters ``{name: [K, ...]}``
        (seeds share no parameters: the gradient of the sum is each seed's own).
        """
        module = Bound(self.skeleton, function)

        def one(params, buffers, obs, actions, rewards, terminated, truncated, valid, is_init, *args):
            prefixed = ({f"policy.{k}": v for k, v in params.items()}, {f"policy.{k}": v for k, v in buffers.items()})
            rollout = Rollout(obs, is_init, actions, rewards, terminated, truncated, valid)
            return functional_call(module, prefixed, (rollout, *args), tie_weights=False)

        params = {k: (v[index].requires_grad_() if k in names else v[index]) for k, v in self.params.items()}
        buffers = {k: v[index] for k, v in self.buffers.items()}
        inputs = (params, buffers, part.obs, part.actions, part.rewards, part.terminated, part.truncated, part.valid,
                  part.is_init, *seed_args)
        in_dims = (0,) * 8 + (None,) + tuple(None if a is None else 0 for a in seed_args)
        with torch.enable_grad() if names else torch.no_grad(), matmul_recurrence():
            out = vmap_over_seeds(one, in_dims, *inputs)
            if not names:
                return out, {}
            first = out[0] if isinstance(out, tuple) else out
            grads = torch.autograd.grad(first.sum(), [params[n] for n in names], allow_unused=True)
        return out, {n: torch.zeros_like(params[n]) if g is None else g for n, g in zip(names, grads)}

    def _groups(self, rollout: Rollout, active: torch.Tensor) -> list[tuple[torch.Tensor, Rollout, int]]:
        """The active seeds grouped by the padded length of their own longest episode (``padded_length``):
        ``(indices [K], their rollout cut or padded to that length, the length)`` per group.

        A seed's arithmetic then has the same shapes whichever seeds share its batch
        (batched matrix products round each seed's slice as a matrix product alone
        would), so its gradient is the same bit for bit; a shared padding to the
        batch's longest episode would not be.
        """
        members = tuple(torch.nonzero(active).flatten().tolist())
        if self._group_cache is not None and self._group_cache[0] is rollout and self._group_cache[1] == members:
            return self._group_cache[2]  # the critic's steps reuse the update's groups
        lengths = rollout.valid.sum(1).amax(1).clamp_min(1).tolist()  # [S] longest episode of each seed
        groups: dict[int, list[int]] = {}
        for s in members:
            groups.setdefault(padded_length(lengths[s], self.max_steps), []).append(s)
        out = []
        for steps, members in groups.items():
            index = torch.tensor(members, device=self.device)
            out.append((index, _time_slice(rollout, index, steps), steps))
        self._group_cache = (rollout, members, out)
        return out

    def policy_gradients(self, rollout: Rollout, running_mean: torch.Tensor | None, scale: Scale | None,
                         active: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Per-seed gradients of the actor's loss ``{name: [S, ...]}`` and its terms ``[S]``.

        Rollout tensors are ``[S, T(+1), B, ...]`` except ``is_init``, which all
        seeds share; inactive seeds get zeros.
        """
        config, names = self.config, [n for n in self.params if not is_critic(n)]
        grads = {n: torch.zeros_like(self.params[n]) for n in names}
        terms = {name: torch.zeros(self.seeds, device=self.device) for name in POLICY_TERMS}
        for index, part, steps in self._groups(rollout, active):
            baseline = None if running_mean is None else running_mean[index]
            group_scale = None if scale is None else (scale[0][index], scale[1][index])
            chunks = column_chunks(steps, part.rewards.shape[2], self.skeleton.agent.max_loss_rows)
            moments = None
            if len(chunks) > 1 and config.normalize_returns:  # once per group, shared by its parts
                moments, _ = self._vmapped(lambda policy, r, b, s: advantage_moments(policy, r, config, b, s),
                                           index, part, [], (baseline, group_scale))
            for columns in chunks:
                def loss(policy, r, b, m, s, columns=columns):
                    terms = policy_gradient_loss(policy, r, config, b, columns, m, s)
                    return tuple(getattr(terms, name) for name in POLICY_TERMS)

                out, chunk_grads = self._vmapped(loss, index, part, names, (baseline, moments, group_scale))
                for name, value in chunk_grads.items():
                    grads[name][index] += value
                for i, name in enumerate(POLICY_TERMS):
                    terms[name][index] += out[i].detach()
        return grads, terms

    def critic_targets(self, rollout: Rollout, scale: Scale
                       ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], Scale]:
        """Each seed's critic targets ``[S, T', B]`` (``T'`` covers every group's padded length), the
        actor's features the critic reads ``[S, T'+1, B, F]`` (None when it reads none), and the
        targets' mean and standard deviation ``[S]``, computed per group of ``padded_length`` (for
        every seed; the learning rule uses those of the seeds it steps)."""
        mean, std = torch.zeros(self.seeds, device=self.device), torch.ones(self.seeds, device=self.device)
        everyone = torch.ones(self.seeds, dtype=torch.bool, device=self.device)
        groups = self._groups(rollout, everyone)
        longest = max([rollout.rewards.shape[1], *(steps for _, _, steps in groups)])
        targets = rollout.rewards.new_zeros(self.seeds, longest, rollout.rewards.shape[2])
        reads = self.skeleton.critic is not None and self.skeleton.critic.reads_actor
        features = (rollout.obs.new_zeros(self.seeds, longest + 1, rollout.obs.shape[2],
                                          self.skeleton.agent.feature_dim) if reads else None)

        def targets_and_features(policy, r, s):  # vmap's outputs are tensors: the features only if read
            out = targets_and_moments(policy, r, self.config, s)
            return out if reads else out[:3]

        for index, part, steps in groups:
            out, _ = self._vmapped(targets_and_features, index, part, [], ((scale[0][index], scale[1][index]),))
            targets[index, :steps] = out[0]
            mean[index], std[index] = out[1], out[2]
            if features is not None:
                features[index, :steps + 1] = out[3]
        return (targets, features), (mean, std)

    def value_gradients(self, rollout: Rollout, targets: tuple[torch.Tensor, torch.Tensor | None], scale: Scale,
                        active: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Per-seed gradients of the critic's loss ``{name: [S, ...]}`` and the loss ``[S]``."""
        config, names = self.config, [n for n in self.params if is_critic(n)]
        targets, features = targets
        grads = {n: torch.zeros_like(self.params[n]) for n in names}
        total = torch.zeros(self.seeds, device=self.device)
        for index, part, steps in self._groups(rollout, active):
            group_scale, group_targets = (scale[0][index], scale[1][index]), targets[index, :steps]
            group_features = None if features is None else features[index, :steps + 1]
            for columns in column_chunks(steps, part.rewards.shape[2], self.skeleton.agent.max_loss_rows):
                out, chunk_grads = self._vmapped(
                    lambda policy, r, s, y, f, columns=columns: value_loss(policy, r, config, s, columns, y, f),
                    index, part, names, (group_scale, group_targets, group_features))
                for name, value in chunk_grads.items():
                    grads[name][index] += value
                total[index] += out.detach()
        return grads, total


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


def build_seed_batch(configs: list[RunConfig], device: torch.device
                     ) -> tuple[TorchEnv, SeedBatch, dict[str, torch.Tensor]]:
    """The environment, the stacked policies (weights from each seed's init stream) and the
    per-seed random keys (``env``, ``actions``, ``eval_env``: ``[S]``) of a seed batch."""
    config = configs[0]
    env = make_torch_env(config.env)
    streams = [Streams.from_seed(c.seed) for c in configs]
    policies = [seeded_policy(c, env.observation_space, env.action_space, env.max_episode_steps, s.init,
                              torch.device("cpu"))
                for c, s in zip(configs, streams)]
    keys = {name: counter_rng.seed_keys([getattr(s, name) for s in streams], device)
            for name in ("env", "actions", "eval_env")}
    return env, SeedBatch(policies, config, env.max_episode_steps, device), keys


class TorchTrainer:
    """S seeds of one setting on the torch-native environments, as one ``SeedBatch``."""

    def __init__(self, configs: list[RunConfig], device: torch.device) -> None:
        self.config, self.device = configs[0], device
        self.spec = bench_envs.spec_for(self.config.env)
        self.env, self.learner, self.keys = build_seed_batch(configs, device)
        self.everyone = torch.ones(len(configs), dtype=torch.bool, device=device)

    def collect(self, update: int, active: torch.Tensor) -> Rollout:
        return collect(self.env, self.learner, self.keys, update, self.config.num_envs, active)

    def episode_stats(self, rollout: Rollout) -> list[dict[str, float]]:
        steps = rollout.valid.sum((1, 2)).cpu().tolist()
        return [{**stats, "steps": float(n)} for stats, n in zip(episode_stats(rollout, self.spec.success_score), steps)]

    def evaluate(self) -> list[dict[str, float]]:
        rollout = collect(self.env, self.learner, self.keys, 0, self.config.eval_episodes, self.everyone,
                          evaluation=True)
        return episode_stats(rollout, self.spec.success_score)


def train_seed_batch(configs: list[RunConfig]) -> list[RunResult | TrainingDiverged]:
    """Train the runs of ``configs`` (validated, resolved, differing only in seed) as one batch.

    Returns, per config in order, a ``RunResult`` or the ``TrainingDiverged`` of
    that seed (with its partial metrics). The learning rule is
    ``bench.learn.update``'s, as for single runs.
    """
    check_batchable(configs)
    config = configs[0]
    if config.steps <= 0:
        raise ValueError("train_seed_batch() needs a resolved step budget (config.steps > 0)")
    device = select_device(config.device)
    configure_determinism(device)
    keep_freed_memory()  # a batch's tensors are megabytes, reallocated every step
    trainer = TorchTrainer(configs, device)
    seeds = [c.seed for c in configs]

    def identity(run_config: RunConfig) -> dict[str, Any]:
        return {**run_identity(run_config, device), "seed_batch": seeds}

    outcomes = train_runs(configs, trainer, trainer.spec.normalise, identity)
    finished = [o.info for o in outcomes if isinstance(o, RunResult)]
    total_steps = sum(info["env_steps"] for info in finished)
    for info in finished:  # the batch's throughput, what a seed batch is for
        info["batch_steps_per_second"] = total_steps / info["train_seconds"] if info["train_seconds"] > 0 else math.nan
    return outcomes
