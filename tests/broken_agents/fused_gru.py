"""Fails on the seed-batched path: ``nn.GRU`` called directly, which vmap cannot batch."""

from __future__ import annotations

import torch
from torch import nn

from agents.base import Agent, reset_where, segment_starts


class FusedGRUAgent(Agent):
    """``agents/gru.py`` with ``self.rnn(...)`` instead of ``agents.recurrence.gru_layer``."""

    has_memory = True

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.rnn = nn.GRU(obs_dim, hidden_size)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        bounds = segment_starts(is_init) + [obs.shape[0]]
        outputs = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            state = reset_where(is_init[start], state)
            out, last = self.rnn(obs[start:stop], state.unsqueeze(0))  # the bug: no vmap batching rule
            state = last.squeeze(0)
            outputs.append(out)
        return torch.cat(outputs), state
