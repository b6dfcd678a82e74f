"""Environments: the benchmark's own tasks, and any registered gymnasium id.

Each benchmark environment has an ``EnvSpec`` with the facts the report needs:
reference scores for normalisation (``random_score`` for a uniform random policy,
``target_score`` for a solved task), the score that counts as a success per
episode, whether the observation hides state, and a default training budget.
Importing this package registers the custom ids with gymnasium, so
``gymnasium.make("CartPole-P")`` works too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv

from bench.envs.masking import ObservationMask, VectorObservationMask
from bench.envs.tasks import ContinuousForce, CueRecallEnv, DigitMatchEnv, GaussianTargetEnv


@dataclass(frozen=True)
class EnvSpec:
    """What rpg-bench knows about one environment id."""

    env_id: str
    description: str
    #: mean episode return of a uniformly random policy (normalised score 0)
    random_score: float
    #: mean episode return of a solved task (normalised score 1)
    target_score: float
    #: an episode with return >= this counts as a success (accuracy on bandits)
    success_score: float
    partially_observable: bool
    #: "control", "memory" or "bandit": grouping for the report
    family: str
    #: environment steps of one default training run
    default_steps: int
    #: every episode's length (steps), for tasks that end by themselves at a fixed step and are
    #: registered without a gymnasium time limit: the longest episode the critic's clock divides by
    episode_steps: int | None = None

    def normalise(self, score: float) -> float:
        """Map a score to 0 (random policy) .. 1 (target)."""
        return (score - self.random_score) / (self.target_score - self.random_score)


CARTPOLE_POSITIONS = (0, 2)  # cart position, pole angle; velocities hidden
PENDULUM_ANGLE = (0, 1)  # cos and sin of the angle; angular velocity hidden


def _cartpole_p(**kwargs) -> gym.Env:
    return ObservationMask(CartPoleEnv(**kwargs), CARTPOLE_POSITIONS)


def _cartpole_p_vector(num_envs: int, **kwargs) -> VectorObservationMask:
    return VectorObservationMask(CartPoleVectorEnv(num_envs=num_envs, **kwargs), CARTPOLE_POSITIONS)


def _continuous_cartpole(**kwargs) -> gym.Env:
    return ContinuousForce(CartPoleEnv(**kwargs))


def _continuous_cartpole_p(**kwargs) -> gym.Env:
    return ObservationMask(ContinuousForce(CartPoleEnv(**kwargs)), CARTPOLE_POSITIONS)


def _pendulum_p(**kwargs) -> gym.Env:
    return ObservationMask(PendulumEnv(**kwargs), PENDULUM_ANGLE)


def _digit_match_random(n: int) -> float:
    """E|a - d| for a, d independent and uniform on {0..n-1} is (n^2 - 1) / (3n)."""
    return -(n * n - 1) / (3 * n)


CUE_RECALL = {"n_cues": 4, "delay": 6}

_GYM_REGISTRATIONS = {
    "CartPole-P": dict(entry_point=_cartpole_p, vector_entry_point=_cartpole_p_vector, max_episode_steps=500),
    "ContinuousCartPole": dict(entry_point=_continuous_cartpole, max_episode_steps=500),
    "ContinuousCartPole-P": dict(entry_point=_continuous_cartpole_p, max_episode_steps=500),
    "Pendulum-P": dict(entry_point=_pendulum_p, max_episode_steps=200),
    "DigitMatch-10": dict(entry_point=DigitMatchEnv, kwargs={"n": 10}),
    "DigitMatch-100": dict(entry_point=DigitMatchEnv, kwargs={"n": 100}),
    "GaussianTarget": dict(entry_point=GaussianTargetEnv),
    "CueRecall": dict(entry_point=CueRecallEnv, kwargs=CUE_RECALL),
}

# Random scores of the control tasks were measured with `python -m bench.envs.reference`
# (uniform random actions, 1000 episodes, seed 0); the others are closed forms.
SPECS: dict[str, EnvSpec] = {
    spec.env_id: spec
    for spec in [
        EnvSpec("CartPole-v1", "balance a pole; full state", 22.3, 500.0, 475.0, False, "control", 150_000),
        EnvSpec("CartPole-P", "CartPole with velocities hidden", 22.3, 500.0, 475.0, True, "control", 300_000),
        EnvSpec("ContinuousCartPole", "CartPole pushed with a continuous force in [-10, 10] N", 27.9, 500.0, 475.0,
                False, "control", 150_000),
        EnvSpec("ContinuousCartPole-P", "ContinuousCartPole with velocities hidden", 27.9, 500.0, 475.0, True,
                "control", 300_000),
        EnvSpec("Acrobot-v1", "swing a double pendulum up", -499.1, -100.0, -100.0, False, "control", 300_000),
        EnvSpec("Pendulum-v1", "swing up and hold; continuous torque", -1222.0, -200.0, -200.0, False, "control", 300_000),
        EnvSpec("Pendulum-P", "Pendulum with angular velocity hidden", -1222.0, -200.0, -200.0, True, "control", 300_000),
        EnvSpec("MountainCarContinuous-v0", "drive up a hill; continuous", -33.3, 90.0, 90.0, False, "control", 300_000),
        EnvSpec("DigitMatch-10", "one step: name the digit (10 actions)", _digit_match_random(10), 0.0, 0.0, False, "bandit", 50_000,
                episode_steps=1),
        EnvSpec("DigitMatch-100", "one step: name the number (100 actions)", _digit_match_random(100), 0.0, 0.0, False, "bandit",
                200_000, episode_steps=1),
        EnvSpec("GaussianTarget", "one step: output 3.0 (Gaussian policy)", -(400.0 / 12.0 + 9.0), 0.0, -0.01, False, "bandit", 20_000,
                episode_steps=1),
        EnvSpec("CueRecall", "name a cue seen 6 steps earlier (4 cues)", 0.25, 1.0, 1.0, True, "memory", 100_000,
                episode_steps=CUE_RECALL["delay"] + 1),
    ]
}

DEFAULT_STEPS_OTHER = 100_000


def register_with_gymnasium() -> None:
    """Register the custom ids with gymnasium (idempotent)."""
    for env_id, kwargs in _GYM_REGISTRATIONS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)


def names() -> list[str]:
    """The benchmark's environment ids, in report order."""
    return list(SPECS)


def is_known(env_id: str) -> bool:
    """True for benchmark ids and any id registered with gymnasium."""
    register_with_gymnasium()
    return env_id in SPECS or env_id in gym.registry


def spec_for(env_id: str) -> EnvSpec:
    """The spec of ``env_id``; a plain gymnasium id gets one without reference scores."""
    if env_id in SPECS:
        return SPECS[env_id]
    if not is_known(env_id):
        raise KeyError(
            f"unknown environment {env_id!r}; valid choices: {', '.join(names())} "
            "or any registered gymnasium id"
        )
    threshold = gym.spec(env_id).reward_threshold
    return EnvSpec(
        env_id,
        "gymnasium environment",
        random_score=math.nan,
        target_score=math.nan,
        success_score=threshold if threshold is not None else math.inf,
        partially_observable=False,
        family="other",
        default_steps=DEFAULT_STEPS_OTHER,
    )


register_with_gymnasium()
