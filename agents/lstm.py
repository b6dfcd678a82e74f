"""``nn.LSTM`` over whole sequences: the variant added the documented way (one file + one config line)."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent, reset_where, segment_starts
from agents.recurrence import lstm_layer


@register("lstm")
class LSTMAgent(Agent):
    """LSTM layer over whole sequences; state (h, c) reset at episode starts."""

    has_memory = True
    max_loss_rows = 8192  # ~9 KB kept for backward per row

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.rnn = nn.LSTM(obs_dim, hidden_size, num_layers=1)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """h and c stacked: [B, 2, H]."""
        return torch.zeros(batch_size, 2, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim], is_init: [T, B], state: [B, 2, H] -> features [T, B, H], state."""
        bounds = segment_starts(is_init) + [obs.shape[0]]
        outputs = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            state = reset_where(is_init[start], state)
            out, hidden, cell = lstm_layer(self.rnn, obs[start:stop], state[:, 0], state[:, 1])
            outputs.append(out)
            state = torch.stack([hidden, cell], dim=1)
        return torch.cat(outputs), state
