"""The contract every agent variant implements, and the helpers they share.

An *agent* is the torso of a policy: it turns observations into features and
carries whatever memory the variant has. Heads (action distribution, value) are
chosen from the action space by ``bench.learn.policy`` and are not the agent's job.

Conventions (shared with the rest of rpg-bench):

- Time-major tensors: ``obs: [T, B, obs_dim]``.
- ``is_init: [T, B]`` (bool) is true when ``obs[t]`` is the first observation of an
  episode. The agent must reset its memory *before* consuming such an
  observation, so nothing flows across an episode boundary.
- ``state`` is a tensor ``[B, ...]`` (possibly with a zero-size trailing dim for
  memoryless agents); ``forward`` returns the state after the last step, so step
  mode (``T == 1`` repeatedly) and sequence mode share one code path.
"""

from __future__ import annotations

import abc

import torch
from torch import nn


class Agent(nn.Module, abc.ABC):
    """Base class for agent variants.

    Subclasses set ``feature_dim`` and ``has_memory`` and implement
    ``initial_state`` and ``forward``.
    """

    feature_dim: int
    #: True when outputs may depend on earlier observations of the same episode.
    has_memory: bool = False
    #: Most ``[T+1, B]`` rows one backward pass may keep activations for; longer
    #: batches are split over their episodes (``bench.learn.loss.column_chunks``), so
    #: a job's memory stays bounded whatever the episode length. None: no limit.
    max_loss_rows: int | None = None

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.hidden_size = hidden_size
        self.feature_dim = hidden_size

    @abc.abstractmethod
    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The state at the start of an episode: ``[B, ...]``."""

    @abc.abstractmethod
    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the agent over a sequence.

        Args:
            obs: ``[T, B, obs_dim]`` observations.
            is_init: ``[T, B]`` bool, true where ``obs[t]`` starts an episode.
            state: ``[B, ...]`` state before ``obs[0]``.

        Returns:
            features ``[T, B, feature_dim]`` and the state after ``obs[T-1]``.
        """


def reset_where(is_init: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Zero the state of the batch entries that start a new episode.

    A select rather than an in-place write, so autograd sees no path from the
    old state to the new episode.

    Args:
        is_init: ``[B]`` bool.
        state: ``[B, ...]``.
    """
    mask = is_init.reshape(is_init.shape + (1,) * (state.dim() - 1))
    return torch.where(mask, torch.zeros_like(state), state)


def segment_starts(is_init: torch.Tensor) -> list[int]:
    """Time indices at which any batch entry starts an episode, plus 0.

    Sequence-mode recurrent layers (``nn.GRU``, ``nn.LSTM``) cannot reset in the
    middle of a call, so the sequence is cut at these indices: one call per
    segment. Rollouts that start every episode at ``t = 0`` need a single call.

    Args:
        is_init: ``[T, B]`` bool.
    """
    if is_init.shape[0] == 1:  # step mode: no search (and no device sync) needed
        return [0]
    times = torch.nonzero(is_init.any(dim=1)).flatten().tolist()
    return sorted({0, *times})
