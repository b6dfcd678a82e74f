"""A zero-padded window of the last k observations, read by a GRU at every step (seed 002)."""

from __future__ import annotations

import torch
from torch import nn

from agents import register
from agents.base import Agent
from agents.recurrence import gru_layer

WINDOW = 5


@register("window")
class WindowAgent(Agent):
    """GRU over a zero-padded window of the last 5 observations; no hidden state kept."""

    has_memory = True
    max_loss_rows = 2048  # ~20 KB kept for backward per row (a GRU over k observations each)

    def __init__(self, obs_dim: int, hidden_size: int, window: int = WINDOW) -> None:
        super().__init__(obs_dim, hidden_size)
        self.window = window
        self.rnn = nn.GRU(obs_dim, hidden_size, num_layers=1)

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """The k-1 observations before the next one, oldest first: [B, k-1, obs_dim]."""
        return torch.zeros(batch_size, self.window - 1, self.obs_dim, device=device)

    def forward(
        self, obs: torch.Tensor, is_init: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs: [T, B, obs_dim], is_init: [T, B], state: [B, k-1, obs_dim] -> [T, B, H], state."""
        steps, batch, _ = obs.shape
        k = self.window
        history = torch.cat([state.transpose(0, 1), obs])  # [k-1+T, B, obs_dim]
        # windows[t, b, j] = history[t + j]: the k observations ending at obs[t].
        windows = history.unfold(0, k, 1).permute(0, 1, 3, 2)  # [T, B, k, obs_dim]
        lag = torch.arange(k - 1, -1, -1, device=obs.device)  # lag of window slot j
        windows = windows * (lag <= _steps_since_init(is_init, k)[..., None]).unsqueeze(-1)
        # One GRU call over all T*B windows, from a zero state: no state crosses steps.
        flat = windows.reshape(steps * batch, k, -1).transpose(0, 1)
        out, _ = gru_layer(self.rnn, flat, flat.new_zeros(flat.shape[1], self.hidden_size))
        features = out[-1].reshape(steps, batch, -1)
        return features, history[-(k - 1) :].transpose(0, 1) * _carry_mask(is_init, k)


def _steps_since_init(is_init: torch.Tensor, k: int) -> torch.Tensor:
    """[T, B] steps since the latest episode start at or before t (k-1 when none in view)."""
    steps = is_init.shape[0]
    t = torch.arange(steps, device=is_init.device)[:, None].expand_as(is_init)
    last_init = torch.where(is_init, t, torch.full_like(t, -steps - k)).cummax(dim=0).values
    return (t - last_init).clamp(max=k - 1)


def _carry_mask(is_init: torch.Tensor, k: int) -> torch.Tensor:
    """[B, k-1, 1] mask of the carried observations that belong to the current episode."""
    since = _steps_since_init(is_init, k)[-1]  # [B]
    lag = torch.arange(k - 2, -1, -1, device=is_init.device)  # lags of the k-1 kept slots
    return (lag[None, :] <= since[:, None]).unsqueeze(-1).to(is_init.device)
