"""Checks of an environment from outside the benchmark, once, before anything trains.

The benchmark's own ids are tested (``tests/test_envs.py``, ``tests/test_torch_native.py``);
any other registered gymnasium id is checked here: gymnasium's environment checker,
spaces the heads support (a ``Box`` observation; a ``Discrete`` or flat ``Box``
action), and the vector environment's autoreset mode. The collectors read the
final observation of an episode and mask the steps after it, which needs
gymnasium's default next-step autoreset: an environment that resets in the same
step (as some simulators' vector environments do) would hand the truncation
bootstrap the next episode's first observation, so it is refused.
"""

from __future__ import annotations

import functools
import warnings

import gymnasium as gym
from gymnasium.vector import AutoresetMode


class UnsupportedEnvironment(ValueError):
    """An environment rpg-bench cannot train on; the message is one line for the user."""


def check_spaces(env_id: str, observation: gym.Space, action: gym.Space) -> None:
    """Raise ``UnsupportedEnvironment`` naming a space the agents or heads cannot use."""
    if not isinstance(observation, gym.spaces.Box):
        raise UnsupportedEnvironment(f"environment {env_id!r}: observation space {observation} is not supported; "
                                     "rpg-bench's agents read Box observations")
    if isinstance(action, gym.spaces.Discrete):
        return
    if not (isinstance(action, gym.spaces.Box) and len(action.shape) == 1):
        raise UnsupportedEnvironment(f"environment {env_id!r}: action space {action} is not supported; "
                                     "valid choices: Discrete, or a one-dimensional Box")


def check_autoreset(env_id: str, vector_env: gym.vector.VectorEnv) -> None:
    """Raise ``UnsupportedEnvironment`` unless the vector environment resets on the next step."""
    mode = vector_env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode != AutoresetMode.NEXT_STEP:
        name = getattr(mode, "name", str(mode))
        raise UnsupportedEnvironment(f"environment {env_id!r}: its vector environment resets in mode {name}; "
                                     "rpg-bench needs NEXT_STEP (gymnasium's default) to read each episode's "
                                     "final observation")


@functools.cache
def check_environment(env_id: str) -> None:
    """Check a registered gymnasium id once per process (see the module docstring).

    Raises:
        UnsupportedEnvironment: one line naming the environment and what is wrong.
    """
    from gymnasium.utils.env_checker import check_env

    try:
        env = gym.make(env_id)
    except Exception as error:  # a missing dependency, a broken entry point
        raise UnsupportedEnvironment(f"environment {env_id!r} cannot be made: {type(error).__name__}: "
                                     f"{str(error).splitlines()[0] if str(error) else ''}") from None
    try:
        check_spaces(env_id, env.observation_space, env.action_space)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the checker's advice is not a refusal
            check_env(env.unwrapped, skip_render_check=True)
    except UnsupportedEnvironment:
        raise
    except Exception as error:
        raise UnsupportedEnvironment(f"environment {env_id!r} fails gymnasium's environment checker: "
                                     f"{str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    finally:
        env.close()
    vector_env = gym.make_vec(env_id, num_envs=1)
    try:
        check_autoreset(env_id, vector_env)
    finally:
        vector_env.close()
