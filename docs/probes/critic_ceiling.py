"""Probe: is the critic's explained variance on CartPole-v1 limited by its fit or by the returns' noise?

For each seed: train ``mlp`` on CartPole-v1 with the shipped defaults (critic baseline,
REINFORCE; ``--clock``: with ``critic_time``, not run for docs/evidence.md), keep the final policy and critic, then collect fresh batches of 16 episodes
with the final stochastic policy:

- ``as_is``: the trained critic's explained variance (``1 - SSE/SST``) of its own targets on a
  held-out batch, what training logs: returns-to-go bootstrapped at truncation (the shipped
  critic), or with ``--clock`` (``critic_time=True``) the capped returns-to-go, read with the
  elapsed time.
- ``refit``: a copy of the trained critic fitted further on ``--fit-batches`` other batches of
  the same policy (``--refit-steps`` full-batch Adam steps at ``--lr``): its best held-out
  explained variance over the steps (an optimistic ceiling of what this network explains
  there), its own explained variance on the fit batches at that step (``refit_fit_set``: near
  the held-out figure, it does not over-fit; low too, it has not fitted, or there is little to
  fit) and its held-out figure after the last step (``refit_last``).

Run from the repository root (about 15 s per seed on one core):
    PYTHONPATH=. python docs/probes/critic_ceiling.py --seeds 0 1 2 3 4 [--clock]
"""

from __future__ import annotations

import argparse
import copy

import torch

from bench.learn import update
from bench.learn.common import configure_determinism, run_identity
from bench.learn.config import RunConfig, resolve_steps
from bench.learn.loss import targets_and_moments
from bench.learn.rollout import collect_episodes
from bench.learn.train import GymTrainer


def explained(values: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> float:
    y, v = targets[valid], values[valid]
    return float(1 - ((y - v) ** 2).mean() / y.var(unbiased=False))


def probe(seed: int, fit_batches: int, refit_steps: int, lr: float, clock: bool) -> dict[str, float]:
    config = resolve_steps(RunConfig(env="CartPole-v1", agent="mlp", seed=seed, critic_time=clock))
    device = torch.device("cpu")
    configure_determinism(device)
    trainer = GymTrainer(config, device)
    rules = []
    original = update.LearningRule

    class Capturing(original):  # keep the rule to read the critic's target moments at the end
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            rules.append(self)

    update.LearningRule = Capturing
    try:
        (result,) = update.train_runs([config], trainer, trainer.spec.normalise, lambda c: run_identity(c, device))
    finally:
        update.LearningRule = original
    policy, scale = trainer.policy, tuple(x[0] for x in rules[0].scale)
    generator = torch.Generator().manual_seed(10_000 + seed)
    batches = [collect_episodes(trainer.envs, policy, generator, device) for _ in range(fit_batches + 1)]
    held_out, fit = batches[0], batches[1:]
    with torch.no_grad():
        targets = targets_and_moments(policy, held_out, config, scale)[0]
        steps = held_out.rewards.shape[0]
        as_is = explained(scale[0] + scale[1] * policy.value(held_out.obs, held_out.is_init)[:steps], targets,
                          held_out.valid)
        fit_targets = [targets_and_moments(policy, b, config, scale)[0] for b in fit]
    critic = copy.deepcopy(policy.critic)
    optimiser = torch.optim.Adam(critic.parameters(), lr=lr)
    pooled = torch.cat([t[b.valid] for t, b in zip(fit_targets, fit)])
    mu, sigma = pooled.mean(), pooled.std().clamp_min(1e-3)
    best, fit_ev, held = -float("inf"), -float("inf"), float("nan")
    for step in range(refit_steps):
        optimiser.zero_grad()
        loss = sum(((critic(b.obs, b.is_init)[: b.rewards.shape[0]] - (t - mu) / sigma) ** 2)[b.valid].sum()
                   for t, b in zip(fit_targets, fit)) / len(pooled)
        loss.backward()
        optimiser.step()
        if step % 10 == 9:
            with torch.no_grad():
                held = explained(mu + sigma * critic(held_out.obs, held_out.is_init)[:steps], targets, held_out.valid)
                if held > best:  # the fit's own explained variance where held-out is best: a gap means over-fitting
                    best = held
                    fitted = torch.cat([(mu + sigma * critic(b.obs, b.is_init)[: b.rewards.shape[0]])[b.valid] for b in fit])
                    fit_ev = float(1 - ((pooled - fitted) ** 2).mean() / pooled.var(unbiased=False))
    last = held
    metrics = result.metrics
    train = metrics[metrics["phase"] == "train"]
    return {"seed": seed, "final_eval": float(metrics["return_mean"].iloc[-1]),
            "logged_late_ev": result.info["critic_explained_variance"], "as_is": as_is, "refit_best": best, "refit_fit_set": fit_ev, "refit_last": last,
            "held_out_return": float(held_out.episode_returns.mean()),
            "held_out_target_std": float(targets[held_out.valid].std()), "updates": len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--fit-batches", type=int, default=8)
    parser.add_argument("--refit-steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--clock", action="store_true", help="a critic that reads the time (critic_time=True)")
    args = parser.parse_args()
    for seed in args.seeds:
        row = probe(seed, args.fit_batches, args.refit_steps, args.lr, args.clock)
        print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
