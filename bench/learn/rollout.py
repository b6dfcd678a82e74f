"""Collect one complete episode from each of B vectorised environments.

Every update trains on complete, on-policy episodes: all B environments are
reset together and stepped until each has ended once (terminated or
truncated). Each column of the batch is then exactly one episode starting at
``t = 0``, so returns never need a bootstrap at a rollout cut, and recurrent
states for training are recomputed from the episode start with the current
weights (no stale stored states). Environments that finish early keep stepping
(gymnasium's next-step autoreset) but those steps are masked out (``valid``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from bench.learn.policy import Policy
from bench.envs.vector import GymBatch


@dataclass
class Rollout:
    """A batch of B episodes, time-major and padded to the longest one.

    Attributes:
        obs: ``[T+1, B, obs_dim]``; ``obs[L_b, b]`` is episode b's final observation.
        is_init: ``[T+1, B]`` bool, true at ``t = 0`` only.
        actions: ``[T, B]`` (discrete) or ``[T, B, action_dim]`` (continuous).
        rewards, terminated, truncated: ``[T, B]``.
        valid: ``[T, B]`` bool, step t belongs to episode b (``t < L_b``).
    """

    obs: torch.Tensor
    is_init: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    valid: torch.Tensor

    @property
    def lengths(self) -> torch.Tensor:
        """[B] episode lengths."""
        return self.valid.sum(0)

    @property
    def episode_returns(self) -> torch.Tensor:
        """[B] undiscounted episode returns."""
        return (self.rewards * self.valid).sum(0)

    def columns(self, index: slice) -> "Rollout":
        """The episodes ``index`` of the batch (views, env axis 1 of every field)."""
        return Rollout(*(getattr(self, f.name)[:, index] for f in fields(self)))


def collect_episodes(
    envs: GymBatch,
    policy: Policy,
    generator: torch.Generator,
    device: torch.device,
    seed: int | None = None,
    deterministic: bool = False,
) -> Rollout:
    """Run one episode in each environment with ``policy``.

    Args:
        envs: B environments (``bench.envs.vector``) with next-step autoreset.
        generator: the stream actions are sampled from (unused if deterministic).
        seed: passed to ``envs.reset`` (only on the first reset of a run).
        deterministic: take the distribution's mode instead of sampling.
    """
    batch = envs.num_envs
    obs = envs.reset(seed=seed)
    state = policy.initial_state(batch, device)
    # All environments start an episode at t = 0 and none restarts before the
    # batch ends (later restarts are masked), so is_init is true at t = 0 only.
    is_init = torch.ones(1, batch, dtype=torch.bool, device=device)
    later = torch.zeros_like(is_init)
    running = torch.ones(batch, dtype=torch.bool, device=device)
    obs_seq, actions, rewards, terminated, truncated, valid = [obs], [], [], [], [], []
    with torch.no_grad():  # not inference_mode: environment state tensors outlive the loop
        while bool(running.any()):
            out = policy(obs[None], is_init, state)
            action = (policy.mode(out.dist) if deterministic else policy.sample(out.dist, generator))[0]
            state = out.state
            is_init = later
            obs, reward, term, trunc = envs.step(action)
            obs_seq.append(obs)
            actions.append(action)
            rewards.append(reward)
            terminated.append(term)
            truncated.append(trunc)
            valid.append(running)
            running = running & ~(term | trunc)

    steps = len(actions)
    init = torch.zeros(steps + 1, batch, dtype=torch.bool, device=device)
    init[0] = True
    return Rollout(
        obs=torch.stack(obs_seq),
        is_init=init,
        actions=torch.stack(actions),
        rewards=torch.stack(rewards).to(torch.float32),
        terminated=torch.stack(terminated),
        truncated=torch.stack(truncated),
        valid=torch.stack(valid),
    )
