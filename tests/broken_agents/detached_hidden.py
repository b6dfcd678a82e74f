"""No gradient through time: the hidden state is detached between steps."""

from __future__ import annotations

import torch
from torch import nn

from agents.base import Agent, reset_where
from agents.recurrence import gru_cell


class DetachedHiddenAgent(Agent):
    """``gru_cell`` unrolled, with ``.detach()`` on the carried state: outputs look right, BPTT is gone."""

    has_memory = True

    def __init__(self, obs_dim: int, hidden_size: int) -> None:
        super().__init__(obs_dim, hidden_size)
        self.cell = nn.GRUCell(obs_dim, hidden_size)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(batch_size, self.hidden_size, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = []
        for t in range(obs.shape[0]):
            state = gru_cell(self.cell, obs[t], reset_where(is_init[t], state.detach()))  # the bug: .detach()
            outputs.append(state)
        return torch.stack(outputs), state
