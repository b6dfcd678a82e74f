"""Probe: does reading the elapsed time help the critic? (session 12)

Trains one agent on one environment at its full budget for each seed, with the critic
that reads ``t / T`` and fits the capped returns-to-go (``critic_time=True``) and with the
shipped critic, blind to the time, whose targets bootstrap at truncation
(``critic_time=False``), and prints per run the final score, the critic's
late explained variance as ``run.json`` records it, and the area under the learning curve
(mean training return over the budget, ``bench.pipeline.aggregate.learning_curve_area``).

Run from the repository root (CartPole-v1, mlp: about 15 s per run on one core):
    PYTHONPATH=. .venv/bin/python docs/probes/critic_clock.py --env CartPole-v1 --agent mlp --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json

from bench.learn.config import RunConfig, resolve_steps, validate
from bench.learn.train import train
from bench.pipeline.aggregate import learning_curve_area


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--agent", default="mlp")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--settings", type=json.loads, default={}, help='other RunConfig fields, as JSON: {"lr": 0.01}')
    parser.add_argument("--arms", nargs="+", choices=["clock", "blind"], default=["clock", "blind"])
    args = parser.parse_args()
    for clock in [arm == "clock" for arm in args.arms]:
        for seed in args.seeds:
            config = resolve_steps(validate(RunConfig(env=args.env, agent=args.agent, seed=seed, critic_time=clock,
                                                      **args.settings)))
            result = train(config)
            curve = result.metrics[result.metrics["phase"] == "train"]
            area = learning_curve_area(curve["env_steps"], curve["return_mean"], config.steps)
            print(f"critic_time={clock} seed={seed} final={result.info['final_score']:.1f} "
                  f"late_ev={result.info['critic_explained_variance']:.2f} area={area:.1f}", flush=True)


if __name__ == "__main__":
    main()
