"""Recurrent layers that run either as PyTorch's fused kernels or as plain matrix products.

``nn.GRU`` and ``nn.LSTM`` have no ``torch.func.vmap`` batching rule, so they
cannot run over a stack of parameter sets (one per seed). Inside
``matmul_recurrence()`` the agents' recurrent layers run as the same equations
written with matrix products, which vmap turns into batched products. Outside
it (every single run) the fused kernels are used. ``tests/test_agents.py``
checks that both give the same outputs and gradients.

Gate layouts follow PyTorch's: GRU ``(r, z, n)``, LSTM ``(i, f, g, o)``. Stacked layers
(``num_layers > 1``) run layer after layer, each reading the outputs of the one
below, as ``nn.GRU``/``nn.LSTM`` do (their inter-layer dropout is not supported).
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


def _layer_weights(
    rnn: nn.RNNBase, layer: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
    """``(weight_ih, bias_ih, weight_hh, bias_hh)`` of one layer (biases None when ``bias=False``)."""
    return (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"bias_ih_l{layer}", None),
            getattr(rnn, f"weight_hh_l{layer}"), getattr(rnn, f"bias_hh_l{layer}", None))


def _check_matmul_supported(rnn: nn.RNNBase) -> None:
    """The matrix-product form covers unidirectional, time-major stacks without dropout or projections."""
    if rnn.bidirectional or rnn.batch_first or getattr(rnn, "proj_size", 0):
        raise ValueError(f"matmul_recurrence supports unidirectional, time-major {type(rnn).__name__} "
                         "without proj_size only")
    if rnn.dropout and rnn.training:
        raise ValueError(f"matmul_recurrence does not apply {type(rnn).__name__}'s dropout between layers; "
                         "set dropout=0 (a policy's forward must be deterministic)")


def _layered(state: torch.Tensor, num_layers: int, name: str) -> torch.Tensor:
    """A state ``[B, H]`` (one layer) or ``[L, B, H]`` as ``[L, B, H]``."""
    if state.dim() == 2 and num_layers == 1:
        return state.unsqueeze(0)
    if state.dim() == 3 and state.shape[0] == num_layers:
        return state
    raise ValueError(f"{name} has shape {tuple(state.shape)}; expected [B, H] for one layer "
                     f"or [num_layers={num_layers}, B, H]")


def gru_layer(rnn: nn.GRU, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An ``nn.GRU`` (any ``num_layers``) over a sequence.

    Args:
        x: ``[T, B, D]``.
        h: ``[B, H]`` for a one-layer GRU, or ``[L, B, H]`` (PyTorch's layout) for ``L`` layers.

    Returns:
        the last layer's outputs ``[T, B, H]`` and the final state, shaped like ``h``.
    """
    layered = _layered(h, rnn.num_layers, "h")
    if not _MATMUL.get():
        out, last = rnn(x, layered.contiguous())
        return out, last.reshape(h.shape)
    _check_matmul_supported(rnn)
    finals = []
    for layer in range(rnn.num_layers):
        weight_ih, bias_ih, weight_hh, bias_hh = _layer_weights(rnn, layer)
        hidden = layered[layer]
        # All input gates in one product; unbind (not gates[t]) so the backward is one stack, not T scatters.
        gates = F.linear(x, weight_ih, bias_ih).unbind(0)  # T x [B, 3H]
        outputs = []
        for gate in gates:
            hidden = _gru_step(gate, hidden, weight_hh, bias_hh)
            outputs.append(hidden)
        x = torch.stack(outputs)  # this layer's outputs are the next one's inputs
        finals.append(hidden)
    return x, torch.stack(finals).reshape(h.shape)


def lstm_layer(
    rnn: nn.LSTM, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An ``nn.LSTM`` (any ``num_layers``) over a sequence.

    Args:
        x: ``[T, B, D]``.
        h, c: ``[B, H]`` for a one-layer LSTM, or ``[L, B, H]`` for ``L`` layers.

    Returns:
        the last layer's outputs ``[T, B, H]`` and the final h and c, shaped like the inputs.
    """
    layered_h, layered_c = _layered(h, rnn.num_layers, "h"), _layered(c, rnn.num_layers, "c")
    if not _MATMUL.get():
        out, (h_n, c_n) = rnn(x, (layered_h.contiguous(), layered_c.contiguous()))
        return out, h_n.reshape(h.shape), c_n.reshape(c.shape)
    _check_matmul_supported(rnn)
    final_h, final_c = [], []
    for layer in range(rnn.num_layers):
        weight_ih, bias_ih, weight_hh, bias_hh = _layer_weights(rnn, layer)
        hidden, cell = layered_h[layer], layered_c[layer]
        gates = F.linear(x, weight_ih, bias_ih).unbind(0)  # T x [B, 4H]
        outputs = []
        for gate in gates:
            g_i, g_f, g_g, g_o = (gate + F.linear(hidden, weight_hh, bias_hh)).chunk(4, dim=-1)
            cell = torch.sigmoid(g_f) * cell + torch.sigmoid(g_i) * torch.tanh(g_g)
            hidden = torch.sigmoid(g_o) * torch.tanh(cell)
            outputs.append(hidden)
        x = torch.stack(outputs)
        final_h.append(hidden)
        final_c.append(cell)
    return x, torch.stack(final_h).reshape(h.shape), torch.stack(final_c).reshape(c.shape)
