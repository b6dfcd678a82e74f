"""What single runs and seed batches share: seeded streams, device set-up, results.

Kept apart from both trainers so that neither imports the other.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from bench.learn.config import RunConfig
from bench.learn.policy import Policy, build_policy
from bench.provenance import REPO_ROOT, describe_machine, git_commit, versions

class TrainingDiverged(RuntimeError):
    """A loss term or gradient became NaN or infinite; the message names update and term.

    ``metrics`` holds the rows of the updates that finished before it happened.
    """

    metrics: pd.DataFrame | None = None


@dataclass
class RunResult:
    metrics: pd.DataFrame
    info: dict[str, Any]


@dataclass(frozen=True)
class Streams:
    """Independent seeds derived from the run seed, one per source of randomness."""

    init: int
    actions: int
    env: int
    eval_env: int

    @classmethod
    def from_seed(cls, seed: int) -> "Streams":
        children = np.random.SeedSequence(seed).generate_state(4, dtype=np.uint32)
        return cls(*(int(value) for value in children))


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
    return torch.device(name)


def configure_determinism(device: torch.device) -> None:
    """Bit-for-bit on CPU with one thread; on CUDA, deterministic kernels where they exist."""
    if device.type == "cpu":
        torch.set_num_threads(1)
    else:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def seeded_policy(config: RunConfig, observation_space: gym.Space, action_space: gym.Space, time_limit: int,
                  init_seed: int, device: torch.device) -> Policy:
    """Build the policy with weights drawn from ``init_seed`` (global RNG left untouched);
    ``time_limit``: the environment's longest episode (steps)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        policy = build_policy(config, observation_space, action_space, time_limit)
    return policy.to(device)


def episode_summary(returns: np.ndarray, lengths: np.ndarray, success_score: float) -> dict[str, float]:
    """The logged statistics of one batch of episodes: returns and lengths ``[B]`` (float64)."""
    return {
        "episodes": float(len(returns)),
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "return_min": float(returns.min()),
        "return_max": float(returns.max()),
        "length_mean": float(lengths.mean()),
        "success_rate": float((returns >= success_score).mean()),
    }


def agent_source(name: str) -> dict[str, str]:
    """The file that defines agent ``name`` and the sha256 of its bytes: a variant that is not
    committed (or edited since) is still identified in the run's provenance."""
    import agents

    path = Path(inspect.getsourcefile(agents.agent_class(name)) or "")
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "unknown"
    try:
        shown = str(path.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(path)
    return {"path": shown, "sha256": digest}


def run_identity(config: RunConfig, device: torch.device | None = None) -> dict[str, Any]:
    """What every run.json records, finished or failed: config, versions, commit (``-dirty`` when
    tracked files changed), the agent's source file and its hash, machine."""
    return {
        "config": config.to_dict(),
        "seed": config.seed,
        "versions": versions(),
        "git_commit": git_commit(),
        "agent_source": agent_source(config.agent),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        **describe_machine(device or select_device(config.device)),
    }
