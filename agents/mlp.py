"""Feed-forward torso: no memory, the reference every other variant is measured against."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent


@register("mlp")
class MLPAgent(Agent):
    """Two tanh layers, no memory: sees only the current observation."""

    has_memory = False

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden_size),
            nn.Tanh(),
            nn.Linear(hidden_size, hidden_size),
            nn.Tanh(),
        )

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, 0, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim] -> features [T, B, hidden]; the empty state passes through."""
        return self.net(obs), state
