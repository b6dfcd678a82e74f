"""Look-ahead: the output at t reads the observation at t+1."""

from __future__ import annotations

import torch

from agents.mlp import MLPAgent


class LookAheadAgent(MLPAgent):
    """The MLP fed ``obs.roll(-1, 0)``: a shift the wrong way (meant to pair obs[t] with obs[t-1])."""

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(obs.roll(-1, 0), is_init, state)  # the bug: -1 reads the future
