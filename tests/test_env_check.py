"""Foreign environments are checked before anything trains: spaces, autoreset mode, gymnasium's checker."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from bench.envs.check import UnsupportedEnvironment, check_environment
from bench.learn.config import ConfigError, RunConfig, validate


class _TupleActions(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(3)))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}


class _DictObservations(_TupleActions):
    observation_space = gym.spaces.Dict({"x": gym.spaces.Box(-1.0, 1.0, (2,), np.float32)})
    action_space = gym.spaces.Discrete(2)


class _BrokenReset(_TupleActions):
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        return np.zeros(5, np.float32), {}  # outside the observation space


def _same_step_vector(num_envs: int, **kwargs):
    return gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(num_envs)],
                                    autoreset_mode=AutoresetMode.SAME_STEP)


REGISTRATIONS = {
    "TestTupleActions-v0": dict(entry_point=_TupleActions, max_episode_steps=10),
    "TestDictObs-v0": dict(entry_point=_DictObservations, max_episode_steps=10),
    "TestBrokenReset-v0": dict(entry_point=_BrokenReset, max_episode_steps=10),
    "TestSameStep-v0": dict(entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv",
                            vector_entry_point=_same_step_vector, max_episode_steps=500),
}


@pytest.fixture(scope="module", autouse=True)
def registered():
    for env_id, kwargs in REGISTRATIONS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)
    yield
    for env_id in REGISTRATIONS:
        gym.registry.pop(env_id, None)


@pytest.mark.parametrize("env_id, message", [
    ("TestTupleActions-v0", "action space Tuple"),
    ("TestDictObs-v0", "observation space Dict"),
    ("TestBrokenReset-v0", "fails gymnasium's environment checker"),
    ("TestSameStep-v0", "resets in mode SAME_STEP"),
])
def test_an_environment_the_agents_cannot_use_is_refused_in_one_line(env_id, message):
    with pytest.raises(UnsupportedEnvironment) as error:
        check_environment(env_id)
    text = str(error.value)
    assert message in text and env_id in text and "\n" not in text
    with pytest.raises(ConfigError, match=message):  # and so before any training, in validate
        validate(RunConfig(env=env_id, agent="mlp"))


def test_a_foreign_environment_that_fits_is_accepted():
    check_environment("Acrobot-v1")  # registered with gymnasium, not a benchmark spec
    validate(RunConfig(env="MountainCar-v0", agent="mlp"))
