"""Frozen weights: a layer left with ``requires_grad=False``, used in every forward pass."""

from __future__ import annotations

from agents.mlp import MLPAgent


class FrozenFirstLayerAgent(MLPAgent):
    """The MLP with its first layer's weight frozen (a leftover of a fine-tuning experiment)."""

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.net[0].weight.requires_grad_(False)  # the bug
