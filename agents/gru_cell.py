"""``nn.GRUCell`` unrolled by hand, one step at a time (seed thread 000)."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent, reset_where
from agents.recurrence import gru_cell


@register("gru_cell")
class GRUCellAgent(Agent):
    """GRUCell unrolled step by step; hidden state fed back, reset at episode starts."""

    has_memory = True
    max_loss_rows = 8192  # ~4 KB kept for backward per row; a CartPole batch (501 x 16) fits

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.cell = nn.GRUCell(obs_dim, hidden_size)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim], is_init: [T, B], state h: [B, H] -> features [T, B, H], h."""
        hidden = state
        outputs = []
        for t in range(obs.shape[0]):
            # Reset before consuming obs[t]: the new episode never sees the old state.
            hidden = gru_cell(self.cell, obs[t], reset_where(is_init[t], hidden))
            outputs.append(hidden)
        return torch.stack(outputs), hidden
