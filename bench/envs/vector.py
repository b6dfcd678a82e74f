"""Gymnasium vector environments behind a tensor interface (the ``gym`` backend).

``reset(seed) -> obs [B, obs_dim]`` and ``step(action [B, ...]) -> (obs, reward,
terminated, truncated)``, all tensors on the run's device, with gymnasium's
next-step autoreset; natively vectorised where gymnasium has it, else
synchronous. The ``torch`` backend does not come through here: its runs are
seed batches (``bench.learn.seed_batch``) over the torch-native environments.
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import torch

from bench import envs as bench_envs

#: Episode cap for gymnasium ids registered without a time limit.
FALLBACK_TIME_LIMIT = 1000


class GymBatch:
    """A gymnasium ``VectorEnv`` that speaks tensors."""

    def __init__(self, envs: gym.vector.VectorEnv, device: torch.device, time_limit: int) -> None:
        self.envs = envs
        self.device = device
        self.time_limit = time_limit  # the longest episode, in steps
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        self._discrete = isinstance(self.single_action_space, gym.spaces.Discrete)

    def _tensor(self, array: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), dtype=dtype, device=self.device)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        obs, _ = self.envs.reset(seed=seed)
        return self._tensor(obs).reshape(self.num_envs, -1)

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        action_np = action.cpu().numpy()
        if not self._discrete:
            action_np = np.clip(action_np, self.single_action_space.low, self.single_action_space.high)
        obs, reward, terminated, truncated, _ = self.envs.step(action_np)
        return (self._tensor(obs).reshape(self.num_envs, -1), self._tensor(reward),
                self._tensor(terminated, torch.bool), self._tensor(truncated, torch.bool))

    def close(self) -> None:
        self.envs.close()


def make_gym_vector_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    bench_envs.register_with_gymnasium()
    spec = gym.spec(env_id)
    if spec.max_episode_steps is None and spec.vector_entry_point is None:
        # Every update waits for each episode to end: never wait forever.
        wrapper = partial(gym.wrappers.TimeLimit, max_episode_steps=FALLBACK_TIME_LIMIT)
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", wrappers=[wrapper])
    return gym.make_vec(env_id, num_envs=num_envs)


def make_env_batch(env_id: str, num_envs: int, device: torch.device) -> GymBatch:
    """``num_envs`` gymnasium environments of ``env_id``, speaking tensors on ``device``.

    Raises ``bench.envs.check.UnsupportedEnvironment`` for a vector environment
    that does not reset on the next step (the collectors need it).
    """
    from bench.envs.check import check_autoreset

    envs = make_gym_vector_env(env_id, num_envs)
    try:
        check_autoreset(env_id, envs)
    except Exception:
        envs.close()
        raise
    return GymBatch(envs, device, time_limit(env_id))


def time_limit(env_id: str) -> int:
    """The longest episode of ``env_id`` in steps: gymnasium's time limit, else the fixed length of
    a benchmark task that ends by itself (``EnvSpec.episode_steps``), else ``FALLBACK_TIME_LIMIT``."""
    bench_envs.register_with_gymnasium()
    return (gym.spec(env_id).max_episode_steps or bench_envs.spec_for(env_id).episode_steps
            or FALLBACK_TIME_LIMIT)
