"""``python -m bench perf``: speed figures, printed side by side in one process.

- environment steps per second of every variant on CartPole-v1 (one CPU thread,
  the full training loop: acting, update, evaluation excluded), with the ratio to
  ``mlp``, with gymnasium's environments and with their torch-native twins;
- wall-clock to solve CartPole-v1 with ``mlp`` per seed (time until the smoothed
  training return reaches 475, and the final deterministic evaluation);
- update time (loss + backward) of ``gru`` vs ``gru_cell`` on 500-step episodes;
- seed-batched aggregate steps per second (``bench.learn.seed_batch``, torch backend)
  for S seeds in one process, with the ratio to one process per seed, and peak
  memory (resident on CPU, allocated on CUDA);
- Stable-Baselines3 A2C on CartPole-v1 with 8 environments and the same network
  size as the reference, when ``stable_baselines3`` is installed (optional).

Figures, not assertions: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import agents
from bench.learn.config import RunConfig
from bench.learn.doctor import synthetic_rollout
from bench.learn.loss import combined_loss
from bench.learn.policy import build_policy
from bench.learn.train import train

SOLVED = 475.0


def steps_per_second(agent: str, steps: int, backend: str = "gym", seed: int = 0) -> float:
    result = train(RunConfig(env="CartPole-v1", agent=agent, steps=steps, seed=seed, eval_episodes=1, backend=backend))
    return result.info["steps_per_second"]


def time_to_solve(seed: int, budget: int) -> tuple[float, float, float]:
    """(seconds until the training return, smoothed over 3 updates, reaches 475; final eval; total seconds)."""
    result = train(RunConfig(env="CartPole-v1", agent="mlp", steps=budget, seed=seed))
    curve = result.metrics[result.metrics["phase"] == "train"]
    smoothed = curve["return_mean"].rolling(3, min_periods=1).mean().to_numpy()
    hits = np.nonzero(smoothed >= SOLVED)[0]
    solve_time = float(curve["wall_time"].iloc[hits[0]]) if len(hits) else float("nan")
    return solve_time, result.info["final_score"], result.info["train_seconds"]


def update_seconds(agent: str, episode_length: int = 500, batch: int = 16, repeats: int = 5) -> float:
    """Median time of one loss + backward over ``batch`` episodes of ``episode_length`` steps."""
    from gymnasium import spaces

    config = RunConfig(agent=agent, baseline="critic")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        policy = build_policy(config, spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2), episode_length)
    generator = torch.Generator().manual_seed(0)
    rollout = synthetic_rollout(policy, generator, lengths=[episode_length] * batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        policy.zero_grad()
        combined_loss(policy, rollout, config).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_resident_mb() -> float:
    """This process's peak resident memory (``VmHWM``; unlike ``ru_maxrss`` it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the rusage figure, in bytes on macOS and kilobytes elsewhere

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 1024)


def _seed_batch_here(agent: str, seeds: int, steps_per_seed: int, device: str) -> tuple[float, float]:
    import dataclasses

    from bench.learn.seed_batch import train_seed_batch

    base = RunConfig(env="CartPole-v1", agent=agent, steps=steps_per_seed, eval_episodes=1, backend="torch",
                     device=device)
    outcomes = train_seed_batch([dataclasses.replace(base, seed=seed) for seed in range(seeds)])
    if device == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = peak_resident_mb()
    return outcomes[0].info["batch_steps_per_second"], peak


def _child(function: Callable[..., Any], args: tuple, results) -> None:
    torch.set_num_threads(1)
    results.put(function(*args))


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a fresh (spawned) process, with one torch thread.

    Used for whatever changes its process: a seed batch's peak memory is its
    own, as in the pipeline, and the allocator settings a seed batch makes
    (``bench.learn.allocator``) do not reach the single runs measured after it.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_child, args=(function, args, results))
    child.start()
    while True:
        try:
            value = results.get(timeout=1.0)
            break
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the measurement {function.__name__}{args} died: exit code {child.exitcode}")
    child.join()
    return value


def seed_batch_figures(agent: str, seeds: int, steps_per_seed: int, device: str) -> tuple[float, float]:
    """(aggregate env steps per second, peak memory in MB) of ``seeds`` seeds of ``agent`` trained as one batch.

    Each size runs in a fresh process, so the peak (resident memory on CPU,
    allocated memory on CUDA) is that job's own, as in the pipeline.
    """
    return in_fresh_process(_seed_batch_here, agent, seeds, steps_per_seed, device)


def _one_process_per_seed(agent: str, steps: int) -> float:
    """Mean steps/s of seeds 0-2 of ``agent``, each trained alone on the gym backend for ``steps`` steps."""
    return statistics.mean(steps_per_second(agent, steps, seed=seed) for seed in range(3))


def sb3_reference(steps: int) -> float | None:
    """Steps per second of SB3 A2C (8 envs, 64x64 tanh MLP) on CartPole-v1, or None if SB3 is absent."""
    try:
        from stable_baselines3 import A2C
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError:
        return None
    env = make_vec_env("CartPole-v1", n_envs=8, seed=0)
    model = A2C("MlpPolicy", env, seed=0, device="cpu", policy_kwargs={"net_arch": [64, 64]})
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    return steps / (time.perf_counter() - start)


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    names = args.agents or agents.available()
    steps = 20_000 if args.quick else 100_000
    print(f"rpg-bench perf: CartPole-v1, one CPU thread, torch {torch.__version__}")
    print(f"\n== environment steps per second ({steps} steps of training each)")
    figures = {name: steps_per_second(name, steps) for name in names}
    # The torch backend runs a seed batch of one, which changes its process (in_fresh_process).
    torch_figures = {name: in_fresh_process(steps_per_second, name, steps, "torch") for name in names}
    reference = figures.get("mlp")
    sb3 = sb3_reference(steps // 2)
    print(f"{'variant':<12} {'gym steps/s':>12} {'x mlp':>7} {'x SB3 A2C':>10} {'torch steps/s':>14} {'torch/gym':>10}")
    for name, value in figures.items():
        ratio = f"{value / reference:7.2f}" if reference else "    n/a"
        sb3_ratio = f"{value / sb3:10.2f}" if sb3 else "       n/a"
        print(f"{name:<12} {value:>12,.0f} {ratio} {sb3_ratio} {torch_figures[name]:>14,.0f} {torch_figures[name] / value:>10.2f}")
    print(f"{'SB3 A2C':<12} {sb3:>10,.0f}" if sb3 else "SB3 A2C: stable_baselines3 not installed (optional reference)")

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sizes = args.seed_batches or ([1, 16, 256, 1024] if device == "cuda" else [1, 16, 64])
    per_seed = 2_000 if args.quick else 5_000
    print(f"\n== seed-batched training on {device} (torch backend, {per_seed} steps per seed, CartPole-v1)")
    print(f"{'variant':<10} {'S':>6} {'aggregate steps/s':>18} {'one process per seed':>21} {'ratio':>7} {'peak MB':>9}")
    for name in [n for n in ("mlp", "gru") if n in names]:
        # The reference does the same work per seed: one gym-backend process per seed, same budget.
        # Its runs are short (a fraction of a second), so it is measured before and after the sweep.
        before = _one_process_per_seed(name, per_seed)
        figures = [(size, *seed_batch_figures(name, size, per_seed, device)) for size in sizes]
        alone = (before + _one_process_per_seed(name, per_seed)) / 2
        for size, rate, peak in figures:
            print(f"{name:<10} {size:>6} {rate:>18,.0f} {alone:>21,.0f} {rate / alone:>7.2f} {peak:>9,.0f}")
    print("(one process per seed: mean steps/s of seeds 0-2 trained alone on the gym backend with the same budget,"
          " measured before and after the sweep, one core each; the ratio is per core)")

    print("\n== update time on 16 episodes of 500 steps (loss + backward, median of 5)")
    cell, layer = update_seconds("gru_cell"), update_seconds("gru")
    print(f"gru_cell {cell * 1000:8.1f} ms   gru {layer * 1000:8.1f} ms   gru_cell / gru = {cell / layer:.2f}x")

    print(f"\n== wall-clock to solve CartPole-v1 with mlp (training return >= {SOLVED:.0f}, smoothed over 3 updates)")
    budget = 60_000 if args.quick else 200_000
    for seed in range(args.solve_seeds):
        solve, final, total = time_to_solve(seed, budget)
        solved = f"{solve:6.2f} s" if solve == solve else "not reached"
        print(f"seed {seed}: solved after {solved}; final evaluation {final:6.1f} after {total:5.2f} s of training")
    return 0
