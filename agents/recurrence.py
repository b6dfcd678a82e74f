"""Recurrent layers that run either as PyTorch's fused kernels or as plain matrix products.

``nn.GRU`` and ``nn.LSTM`` have no ``torch.func.vmap`` batching rule, so they
cannot run over a stack of parameter sets (one per seed). Inside
``matmul_recurrence()`` the agents' recurrent layers run as the same equations
written with matrix products, which vmap turns into batched products. Outside
it (every single run) the fused kernels are used. ``tests/test_agents.py``
checks that both give the same outputs and gradients.

Gate layouts follow PyTorch's: GRU ``(r, z, n)``, LSTM ``(i, f, g, o)``.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_MATMUL = contextvars.ContextVar("matmul_recurrence", default=False)


@contextlib.contextmanager
def matmul_recurrence() -> Iterator[None]:
    """Within this block, recurrent layers run as matrix products (vmap-able)."""
    token = _MATMUL.set(True)
    try:
        yield
    finally:
        _MATMUL.reset(token)


def _gru_step(gi: torch.Tensor, h: torch.Tensor, weight_hh: torch.Tensor, bias_hh: torch.Tensor) -> torch.Tensor:
    """One GRU step from precomputed input gates ``gi: [B, 3H]`` and ``h: [B, H]``."""
    gh = F.linear(h, weight_hh, bias_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    reset = torch.sigmoid(i_r + h_r)
    update = torch.sigmoid(i_z + h_z)
    candidate = torch.tanh(i_n + reset * h_n)
    return candidate + update * (h - candidate)


def gru_cell(cell: nn.GRUCell, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """One step of ``cell``: x ``[B, D]``, h ``[B, H]`` -> ``[B, H]``."""
    if not _MATMUL.get():
        return cell(x, h)
    return _gru_step(F.linear(x, cell.weight_ih, cell.bias_ih), h, cell.weight_hh, cell.bias_hh)


def gru_layer(rnn: nn.GRU, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A one-layer ``nn.GRU`` over a sequence: x ``[T, B, D]``, h ``[B, H]`` -> (``[T, B, H]``, ``[B, H]``)."""
    if not _MATMUL.get():
        out, last = rnn(x, h.unsqueeze(0))
        return out, last.squeeze(0)
    # All input gates in one product; unbind (not gates[t]) so the backward is one stack, not T scatters.
    gates = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0).unbind(0)  # T x [B, 3H]
    outputs = []
    for gate in gates:
        h = _gru_step(gate, h, rnn.weight_hh_l0, rnn.bias_hh_l0)
        outputs.append(h)
    return torch.stack(outputs), h


def lstm_layer(
    rnn: nn.LSTM, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A one-layer ``nn.LSTM``: x ``[T, B, D]``, h, c ``[B, H]`` -> (``[T, B, H]``, h, c)."""
    if not _MATMUL.get():
        out, (h_n, c_n) = rnn(x, (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
        return out, h_n.squeeze(0), c_n.squeeze(0)
    gates = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0).unbind(0)  # T x [B, 4H]
    outputs = []
    for gate in gates:
        g_i, g_f, g_g, g_o = (gate + F.linear(h, rnn.weight_hh_l0, rnn.bias_hh_l0)).chunk(4, dim=-1)
        c = torch.sigmoid(g_f) * c + torch.sigmoid(g_i) * torch.tanh(g_g)
        h = torch.sigmoid(g_o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), h, c
