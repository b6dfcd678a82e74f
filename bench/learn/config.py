"""The configuration of one training run: a frozen dataclass, documented field by field.

The command-line flags of ``python -m bench run`` are generated from these fields
and their ``help`` metadata, so the documentation lives in one place.
``validate`` turns bad values into one-line ``ConfigError`` messages that name
the value and the valid choices, before anything is built or written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

BASELINES: tuple[str, ...] = ("none", "running_mean", "critic")
STD_MODES: tuple[str, ...] = ("learned", "state", "fixed")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
BACKENDS: tuple[str, ...] = ("gym", "torch")
ESTIMATORS: tuple[str, ...] = ("reinforce", "gae")
CRITIC_MEMORIES: tuple[str, ...] = ("actor", "own")


class ConfigError(ValueError):
    """A bad configuration value; the message is one line meant for the user."""


def _field(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one (agent, environment, seed) run."""

    env: str = _field("CartPole-v1", "environment id: a benchmark id or any registered gymnasium id")
    agent: str = _field("mlp", "agent variant (see `python -m bench list`)")
    seed: int = _field(0, "seed of every random stream of the run")
    steps: int = _field(0, "environment steps to train for; 0 means the environment's default budget")
    num_envs: int = _field(16, "parallel environments = episodes per update")
    hidden_size: int = _field(64, "width of the agent's hidden layers / recurrent state")
    lr: float = _field(3e-3, "Adam learning rate")
    gamma: float = _field(0.99, "discount factor in [0, 1]")
    baseline: str = _field("critic", "baseline subtracted from the return", choices=BASELINES)
    entropy_coef: float = _field(0.01, "entropy bonus coefficient (>= 0)")
    estimator: str = _field("reinforce", "advantage estimator: returns-to-go minus the baseline (REINFORCE), "
                            "or GAE(lambda) from the critic (actor-critic; needs baseline critic)", choices=ESTIMATORS)
    gae_lambda: float = _field(0.95, "lambda of GAE in [0, 1] (estimator gae; 1 = the Monte-Carlo advantage)")
    value_iters: int = _field(5, "Adam steps of the critic on each batch (critic baseline only)")
    value_lr: float = _field(1e-2, "the critic's Adam learning rate (critic baseline only)")
    critic_time: bool = _field(False, "the critic also reads the episode's elapsed time (t / time limit) and fits "
                               "the capped returns-to-go; false: the observation only, its targets bootstrapped "
                               "at truncation (critic baseline only; docs/evidence.md, session 12)")
    critic_memory: str = _field("actor", "what the critic remembers: 'actor' = an MLP over the observation and, for an "
                                "agent with memory, the actor's features (detached: one forward pass per update, as "
                                "sb3-contrib's shared_lstm, with the observation as well); 'own' = a second torso of the agent's variant with its own "
                                "memory, fitted through time on every value step (critic baseline only)",
                                choices=CRITIC_MEMORIES)
    baseline_rate: float = _field(0.05, "update rate of the running-mean baseline, in (0, 1]")
    normalize_returns: bool = _field(False, "standardise the policy's advantages over each batch")
    max_grad_norm: float = _field(0.5, "clip the global gradient norm to this; 0 disables")
    std_mode: str = _field("learned", "Gaussian standard deviation: learned parameter, state-dependent, or fixed", choices=STD_MODES)
    init_std: float = _field(0.5, "initial Gaussian std, as a fraction of the half action range")
    eval_episodes: int = _field(32, "episodes of the final deterministic evaluation")
    device: str = _field("auto", "auto = CUDA when present, else CPU", choices=DEVICES)
    backend: str = _field("gym", "environments: gymnasium's, or their torch-native twins (bench.envs.torch_native)", choices=BACKENDS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def field_help() -> dict[str, str]:
    """Field name -> help text (for the CLI and the report's hyperparameter table)."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(RunConfig)}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate(config: RunConfig) -> RunConfig:
    """Check every value; raise ``ConfigError`` naming the first bad one.

    Environment and agent names are checked too (their registries are imported
    lazily so that this module stays cheap to import).
    """
    import agents
    from bench import envs

    _check(config.agent in agents.available(), f"unknown agent {config.agent!r}; valid choices: {', '.join(agents.available())}")
    _check(
        envs.is_known(config.env),
        f"unknown environment {config.env!r}; valid choices: {', '.join(envs.names())} or any registered gymnasium id",
    )
    if config.env not in envs.SPECS:  # a foreign id: checked once, before anything trains
        from bench.envs.check import UnsupportedEnvironment, check_environment

        try:
            check_environment(config.env)
        except UnsupportedEnvironment as error:
            raise ConfigError(str(error)) from None
    for name, choices in (("baseline", BASELINES), ("std_mode", STD_MODES), ("device", DEVICES), ("backend", BACKENDS),
                          ("estimator", ESTIMATORS), ("critic_memory", CRITIC_MEMORIES)):
        value = getattr(config, name)
        _check(value in choices, f"unknown {name} {value!r}; valid choices: {', '.join(choices)}")
    if config.backend == "torch":
        from bench.envs.torch_native import TORCH_NATIVE_IDS

        _check(config.env in TORCH_NATIVE_IDS,
               f"backend 'torch' has no environment {config.env!r}; valid choices: {', '.join(TORCH_NATIVE_IDS)}")
    _check(config.seed >= 0, f"seed must be >= 0, got {config.seed}")
    _check(config.steps >= 0, f"steps must be >= 0 (0 = default budget), got {config.steps}")
    for name in ("num_envs", "hidden_size", "eval_episodes"):
        value = getattr(config, name)
        _check(value >= 1, f"{name} must be >= 1, got {value}")
    _check(0.0 <= config.gamma <= 1.0, f"gamma must be in [0, 1], got {config.gamma}")
    _check(config.lr > 0 and math.isfinite(config.lr), f"lr must be > 0, got {config.lr}")
    _check(config.entropy_coef >= 0 and math.isfinite(config.entropy_coef), f"entropy_coef must be >= 0, got {config.entropy_coef}")
    _check(config.estimator != "gae" or config.baseline == "critic",
           f"estimator 'gae' needs baseline 'critic', got baseline {config.baseline!r}")
    _check(0.0 <= config.gae_lambda <= 1.0, f"gae_lambda must be in [0, 1], got {config.gae_lambda}")
    _check(1 <= config.value_iters <= 1000, f"value_iters must be in [1, 1000], got {config.value_iters}")
    _check(config.value_lr > 0 and math.isfinite(config.value_lr), f"value_lr must be > 0, got {config.value_lr}")
    _check(0 < config.baseline_rate <= 1, f"baseline_rate must be in (0, 1], got {config.baseline_rate}")
    _check(config.max_grad_norm >= 0, f"max_grad_norm must be >= 0 (0 disables), got {config.max_grad_norm}")
    _check(config.init_std > 0, f"init_std must be > 0, got {config.init_std}")
    return config


def resolve_steps(config: RunConfig) -> RunConfig:
    """Replace ``steps=0`` by the environment's default budget."""
    if config.steps:
        return config
    from bench import envs

    return dataclasses.replace(config, steps=envs.spec_for(config.env).default_steps)
