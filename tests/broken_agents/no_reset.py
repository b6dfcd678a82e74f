"""A leak across episodes: the hidden state is never reset at ``is_init``."""

from __future__ import annotations

import torch

from tests.broken_agents.detached_hidden import DetachedHiddenAgent


class NoResetAgent(DetachedHiddenAgent):
    """A GRUCell unrolled by hand that forgets to reset its state at episode starts."""

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = []
        for t in range(obs.shape[0]):
            state = self.cell(obs[t], state)  # the bug: no reset_where(is_init[t], state)
            outputs.append(state)
        return torch.stack(outputs), state
