"""The small tasks from the seed threads, as gymnasium environments.

- ``DigitMatchEnv`` (seed 001): see a digit, name it; one step.
- ``GaussianTargetEnv`` (seed 003): output a real number close to 3; one step.
- ``CueRecallEnv``: a cue shown only at the first step must be named at the end.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class DigitMatchEnv(gym.Env[np.ndarray, np.int64]):
    """Contextual bandit: observe a one-hot digit ``d`` in ``[0, n)``, pick ``a``; reward ``-|a - d|``.

    The episode ends after one step (``terminated=True``), so there is no
    discounting question: the return is the reward.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, n: int = 10) -> None:
        if n < 2:
            raise ValueError(f"DigitMatch needs n >= 2 actions, got n={n}")
        self.n = n
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
        self.action_space = spaces.Discrete(n)
        self._digit = 0

    def _observation(self) -> np.ndarray:
        obs = np.zeros(self.n, dtype=np.float32)
        obs[self._digit] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._digit = int(self.np_random.integers(self.n))
        return self._observation(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} outside {self.action_space}")
        reward = -float(abs(int(action) - self._digit))
        return self._observation(), reward, True, False, {"digit": self._digit}


class GaussianTargetEnv(gym.Env[np.ndarray, np.ndarray]):
    """One continuous action ``a`` in ``[-10, 10]``; reward ``-(a - 3)^2``; one step."""

    metadata: dict[str, Any] = {"render_modes": []}
    target = 3.0

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Box(-10.0, 10.0, shape=(1,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.ones(1, dtype=np.float32), {}

    def step(self, action):
        value = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -10.0, 10.0))
        reward = -((value - self.target) ** 2)
        return np.ones(1, dtype=np.float32), reward, True, False, {}


class CueRecallEnv(gym.Env[np.ndarray, np.int64]):
    """Memory task: a cue in ``[0, n_cues)`` is shown at step 0, then ``delay`` blank steps.

    Observation: ``[one-hot cue (only at step 0), query flag]``; the query flag is
    set on the last step, where naming the cue earns reward 1 (else 0). Actions
    before the query are ignored. A memoryless policy scores ``1 / n_cues`` at best.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, n_cues: int = 4, delay: int = 10) -> None:
        if n_cues < 2 or delay < 1:
            raise ValueError(f"CueRecall needs n_cues >= 2 and delay >= 1, got {n_cues}, {delay}")
        self.n_cues = n_cues
        self.delay = delay
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n_cues + 1,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_cues)
        self._cue = 0
        self._t = 0

    def _observation(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 1, dtype=np.float32)
        if self._t == 0:
            obs[self._cue] = 1.0
        if self._t == self.delay:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._cue = int(self.np_random.integers(self.n_cues))
        self._t = 0
        return self._observation(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} outside {self.action_space}")
        at_query = self._t == self.delay
        reward = float(int(action) == self._cue) if at_query else 0.0
        self._t += 1
        return self._observation(), reward, at_query, False, {"cue": self._cue}


class ContinuousForce(gym.Wrapper):
    """CartPole with a continuous force: action ``a`` in ``[-1, 1]`` pushes the cart with ``a * 10`` N.

    Gymnasium's own CartPole does the physics, rewards and terminations: each step
    sets its force magnitude to ``|a| * 10`` and pushes in the direction of ``a``
    (the same dynamics as gymnasium's CartPole-v1, whose force is always +-10 N).
    A continuous-control task that a Gaussian policy gradient learns in budget,
    with a partially observable twin (velocities hidden) for the memory experiment.
    """

    force = 10.0

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def step(self, action: np.ndarray):
        push = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        self.env.unwrapped.force_mag = self.force * abs(push)
        return self.env.step(1 if push > 0 else 0)
