"""Partial observability: hide observation entries (velocities) from the agent."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper


def _masked_box(box: spaces.Box, keep: Sequence[int]) -> spaces.Box:
    index = list(keep)
    return spaces.Box(box.low[..., index], box.high[..., index], dtype=box.dtype)


class ObservationMask(gym.ObservationWrapper):
    """Keep only the observation entries ``keep`` (the last axis)."""

    def __init__(self, env: gym.Env, keep: Sequence[int]) -> None:
        super().__init__(env)
        self.keep = list(keep)
        self.observation_space = _masked_box(env.observation_space, self.keep)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[..., self.keep]


class VectorObservationMask(VectorObservationWrapper):
    """``ObservationMask`` for a natively vectorised environment: obs ``[B, obs_dim]``."""

    def __init__(self, env: VectorEnv, keep: Sequence[int]) -> None:
        super().__init__(env)
        self.keep = list(keep)
        self.single_observation_space = _masked_box(env.single_observation_space, self.keep)
        self.observation_space = _masked_box(env.observation_space, self.keep)

    def observations(self, observations: np.ndarray) -> np.ndarray:
        return observations[..., self.keep]
