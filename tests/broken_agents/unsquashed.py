"""Saturated outputs: features on a scale of hundreds, so a tanh-bounded Gaussian mean sits at a bound."""

from __future__ import annotations

import torch

from agents.mlp import MLPAgent


class UnsquashedAgent(MLPAgent):
    """The MLP with its features multiplied by 1,000 (a reward scale applied in the wrong place)."""

    def forward(self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        features, state = super().forward(obs, is_init, state)
        return 1000.0 * features, state  # the bug
