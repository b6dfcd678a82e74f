"""``nn.GRU`` over whole sequences in one call: the fast path for ``gru_cell``."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent, reset_where, segment_starts
from agents.recurrence import gru_layer


@register("gru")
class GRUAgent(Agent):
    """GRU layer over whole sequences; same function as gru_cell, cut only at resets."""

    has_memory = True
    max_loss_rows = 8192  # ~4 KB kept for backward per row; a CartPole batch (501 x 16) fits

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        # One layer, so that its weights map one to one onto nn.GRUCell's.
        self.rnn = nn.GRU(obs_dim, hidden_size, num_layers=1)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim], is_init: [T, B], state h: [B, H] -> features [T, B, H], h."""
        hidden = state
        bounds = segment_starts(is_init) + [obs.shape[0]]
        outputs = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            hidden = reset_where(is_init[start], hidden)
            out, hidden = gru_layer(self.rnn, obs[start:stop], hidden)
            outputs.append(out)
        return torch.cat(outputs), hidden
