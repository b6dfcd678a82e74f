"""A GRU whose state is reset to zero at every step (seed thread 002's "fancy linear layer")."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent


@register("gru_reset")
class GRUResetAgent(Agent):
    """GRU cell fed a zero state at every step: GRU gates, no memory (the control)."""

    has_memory = False

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        # nn.GRUCell(x, 0) never uses weight_hh: keep only what the function uses,
        # so every trainable parameter still receives a gradient.
        self.input_gates = nn.Linear(obs_dim, 3 * hidden_size)
        self.hidden_bias = nn.Parameter(torch.zeros(3 * hidden_size))
        bound = hidden_size**-0.5
        nn.init.uniform_(self.input_gates.weight, -bound, bound)
        nn.init.uniform_(self.input_gates.bias, -bound, bound)
        nn.init.uniform_(self.hidden_bias, -bound, bound)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, 0, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim] -> features [T, B, H]; equals nn.GRUCell(obs[t], 0)."""
        x_r, x_z, x_n = self.input_gates(obs).chunk(3, dim=-1)
        h_r, h_z, h_n = self.hidden_bias.chunk(3)
        reset = torch.sigmoid(x_r + h_r)
        update = torch.sigmoid(x_z + h_z)
        candidate = torch.tanh(x_n + reset * h_n)
        return (1.0 - update) * candidate, state
