"""Probe: do the critic's value steps on valid rows differ from the padded loss by more than rounding? (session 15)

Trains one run twice with the same seed: as shipped (a memoryless critic's value steps read the batch's
valid steps as rows, ``bench.learn.loss.critic_rows``) and with the padded ``[T, B]`` loss forced back
(``critic_rows`` patched to return None in ``bench.learn.train``). Prints, every few updates, the training
return and the critic's value loss of both: equal to rounding at first, and parting only once rounding has
grown into a different action somewhere.

Run from the repository root (about 10 s per run on one core):
    PYTHONPATH=. python docs/probes/critic_rows_vs_padded.py [--env CartPole-P --agent gru --steps 30000] [run options]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

# One run in a fresh interpreter, so that the patch never outlives it.
RUN = """
import sys
import bench.learn.train as train
from bench.cli import main
if sys.argv[1] == "padded":
    train.critic_rows = lambda *args, **kwargs: None
main(sys.argv[2:])
"""


def train(setup: str, args: argparse.Namespace, out: Path) -> pd.DataFrame:
    command = ["run", "--env", args.env, "--agent", args.agent, "--seed", str(args.seed), "--steps", str(args.steps),
               "--quiet", "--out", str(out / setup), *args.extra]
    subprocess.run([sys.executable, "-c", RUN, setup, *command], check=True)
    return pd.read_parquet(out / setup / "metrics.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-P")
    parser.add_argument("--agent", default="gru")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--every", type=int, default=4, help="print every this many updates")
    args, extra = parser.parse_known_args()  # anything else goes to `bench run`
    args.extra = extra or ["--estimator", "gae", "--normalize-returns", "true"]  # CartPole-P's actor-critic settings
    with tempfile.TemporaryDirectory() as folder:
        rows, padded = (train(setup, args, Path(folder)) for setup in ("rows", "padded"))
        updates = min(len(rows), len(padded)) - 1  # the last row is the final evaluation
        print("update  return (rows / padded)   value loss (rows / padded)")
        for u in range(0, updates, args.every):
            print(f"{u:6d}  {rows['return_mean'][u]:9.4f} / {padded['return_mean'][u]:<9.4f}  "
                  f"{rows['value_loss'][u]:.9g} / {padded['value_loss'][u]:.9g}")
        same = (rows["return_mean"][:updates] == padded["return_mean"][:updates]).to_numpy()
        first = int(same.argmin()) if not same.all() else updates
        print(f"identical training return for the first {first} of {updates} updates")


if __name__ == "__main__":
    main()
