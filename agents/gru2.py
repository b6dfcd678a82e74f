"""Two stacked GRU layers: the first variant with a multi-layer recurrent state."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent, reset_where, segment_starts
from agents.recurrence import gru_layer

LAYERS = 2


@register("gru2")
class GRU2Agent(Agent):
    """two stacked GRU layers (the model of the forum thread on hidden state)"""

    has_memory = True
    max_loss_rows = 4096  # twice gru's activations per row

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        # One nn.GRU with two layers; agents/recurrence.py runs it as matrix products
        # (layer after layer) on the seed-batched path, where nn.GRU cannot run.
        self.rnn = nn.GRU(obs_dim, hidden_size, num_layers=LAYERS)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """Both layers' hidden states, batch first: [B, 2, H]."""
        return torch.zeros(batch_size, LAYERS, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim], is_init: [T, B], state: [B, 2, H] -> top layer's features [T, B, H], state."""
        bounds = segment_starts(is_init) + [obs.shape[0]]
        outputs = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            state = reset_where(is_init[start], state)  # every layer restarts with the episode
            out, hidden = gru_layer(self.rnn, obs[start:stop], state.transpose(0, 1))  # [L, B, H]
            outputs.append(out)
            state = hidden.transpose(0, 1)
        return torch.cat(outputs), state
