"""Randomness in forward: dropout left active on the features."""

from __future__ import annotations

import torch
from torch import nn

from agents.mlp import MLPAgent


class DropoutAgent(MLPAgent):
    """The MLP with ``nn.Dropout(0.5)`` on its features, active in training mode."""

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.dropout = nn.Dropout(0.5)  # the bug

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        features, state = super().forward(obs, is_init, state)
        return self.dropout(features), state
