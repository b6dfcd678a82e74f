"""Measure an environment's random-policy score: ``python -m bench.envs.reference ENV [ENV ...]``.

The mean undiscounted return of uniformly random actions over 1000 episodes
(episode ``i`` reset with seed ``i``, actions from the action space seeded 0): the
``random_score`` of ``bench.envs.SPECS`` (normalised score 0).
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

from bench import envs


def random_score(env_id: str, episodes: int = 1000) -> float:
    """Mean return of a uniformly random policy over ``episodes`` episodes (seeded, see above)."""
    env = gym.make(env_id)
    env.action_space.seed(0)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.envs.reference", description=__doc__.splitlines()[0])
    parser.add_argument("envs", nargs="+", help="environment ids")
    parser.add_argument("--episodes", type=int, default=1000)
    args = parser.parse_args(argv)
    envs.register_with_gymnasium()
    for env_id in args.envs:
        print(f"{env_id}: {random_score(env_id, args.episodes):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
