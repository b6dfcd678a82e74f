"""Batches of environments behind one tensor interface, for either backend.

``reset(seed) -> obs [B, obs_dim]`` and ``step(action [B, ...]) -> (obs, reward,
terminated, truncated)``, all tensors on the run's device, with gymnasium's
next-step autoreset. ``gym`` wraps a gymnasium vector environment (natively
vectorised where gymnasium has it, else synchronous); ``torch`` uses the
torch-native twin of a benchmark environment (``bench.envs.torch_native``).
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym
import numpy as np
import torch

from bench import envs as bench_envs
from bench.envs.torch_native import TORCH_NATIVE_IDS, TorchVectorEnv, make_torch_env

BACKENDS: tuple[str, ...] = ("gym", "torch")
#: Episode cap for gymnasium ids registered without a time limit.
FALLBACK_TIME_LIMIT = 1000


class GymBatch:
    """A gymnasium ``VectorEnv`` that speaks tensors."""

    def __init__(self, envs: gym.vector.VectorEnv, device: torch.device) -> None:
        self.envs = envs
        self.device = device
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


class TorchBatch:
    """A ``TorchVectorEnv`` with the same interface (no copies, any device)."""

    def __init__(self, env_id: str, num_envs: int, device: torch.device) -> None:
        self.vector = TorchVectorEnv(make_torch_env(env_id), num_envs, device)
        self.num_envs = num_envs
        self.single_observation_space = self.vector.single_observation_space
        self.single_action_space = self.vector.single_action_space

    def reset(self, seed: int | None = None) -> torch.Tensor:
        return self.vector.reset(seed=seed)[0]

    def step(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        obs, reward, terminated, truncated, _ = self.vector.step(action)
        return obs, reward, terminated, truncated

    def close(self) -> None:
        pass


EnvBatch = GymBatch | TorchBatch


def make_gym_vector_env(env_id: str, num_envs: int) -> gym.vector.VectorEnv:
    bench_envs.register_with_gymnasium()
    spec = gym.spec(env_id)
    if spec.max_episode_steps is None and spec.vector_entry_point is None:
        # Every update waits for each episode to end: never wait forever.
        wrapper = partial(gym.wrappers.TimeLimit, max_episode_steps=FALLBACK_TIME_LIMIT)
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", wrappers=[wrapper])
    return gym.make_vec(env_id, num_envs=num_envs)


def make_env_batch(env_id: str, num_envs: int, device: torch.device, backend: str = "gym") -> EnvBatch:
    """``num_envs`` environments of ``env_id`` on ``backend``; ``ValueError`` names the valid choices."""
    if backend == "torch":
        if env_id not in TORCH_NATIVE_IDS:
            raise ValueError(f"backend 'torch' has no {env_id!r}; valid choices: {', '.join(TORCH_NATIVE_IDS)}")
        return TorchBatch(env_id, num_envs, device)
    if backend != "gym":
        raise ValueError(f"unknown backend {backend!r}; valid choices: {', '.join(BACKENDS)}")
    return GymBatch(make_gym_vector_env(env_id, num_envs), device)
