"""Weights the optimiser cannot see: the layers are kept in a plain Python list."""

from __future__ import annotations

import torch
from torch import nn

from agents.base import Agent


class PlainListAgent(Agent):
    """An MLP whose layers sit in a list, not an ``nn.ModuleList``: not in ``parameters()``."""

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.layers = [nn.Linear(obs_dim, hidden_size), nn.Linear(hidden_size, hidden_size)]  # the bug
        self.scale = nn.Parameter(torch.ones(hidden_size))  # one registered weight, so some gradient flows

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, 0, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = obs
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x * self.scale, state
