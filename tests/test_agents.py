"""Agent variants: registry, GRUCell == GRU layer, the reset control, the window, stacked layers."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

import agents
from agents.gru import GRUAgent
from agents.gru2 import GRU2Agent
from agents.gru_cell import GRUCellAgent
from agents.gru_reset import GRUResetAgent
from agents.recurrence import gru_layer, lstm_layer, matmul_recurrence
from agents.window import WindowAgent

OBS, HIDDEN = 3, 8


def _sequence(generator, steps=9, batch=4):
    obs = torch.randn(steps, batch, OBS, generator=generator)
    is_init = torch.zeros(steps, batch, dtype=torch.bool)
    is_init[0] = True
    is_init[3, 1] = True
    is_init[6, 2] = True
    is_init[7, 0] = True
    return obs, is_init


def test_registry_lists_the_required_variants():
    assert {"mlp", "gru_cell", "gru", "window", "gru_reset", "gru2"} <= set(agents.available())
    assert agents.describe("gru2") == "two stacked GRU layers (the model of the forum thread on hidden state)"


def test_unknown_agent_names_the_valid_choices():
    with pytest.raises(KeyError, match="valid choices: .*gru_cell"):
        agents.agent_class("transformer-xl")


@pytest.mark.parametrize("name", ["mlp", "gru_cell", "gru", "window", "gru_reset", "gru2"])
def test_every_variant_maps_sequences_to_features(name, generator):
    agent = agents.make_agent(name, OBS, HIDDEN)
    obs, is_init = _sequence(generator)
    features, state = agent(obs, is_init, agent.initial_state(obs.shape[1]))
    assert features.shape == (obs.shape[0], obs.shape[1], agent.feature_dim)
    assert state.shape == agent.initial_state(obs.shape[1]).shape


def test_gru_layer_equals_unrolled_gru_cell_with_the_same_weights(generator):
    cell_agent, layer_agent = GRUCellAgent(OBS, HIDDEN), GRUAgent(OBS, HIDDEN)
    with torch.no_grad():
        for suffix in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer_agent.rnn, f"{suffix}_l0").copy_(getattr(cell_agent.cell, suffix))
    obs, is_init = _sequence(generator)
    start = torch.randn(obs.shape[1], HIDDEN, generator=generator)
    cell_out, cell_state = cell_agent(obs, is_init, start)
    layer_out, layer_state = layer_agent(obs, is_init, start)
    torch.testing.assert_close(layer_out, cell_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer_state, cell_state, atol=1e-6, rtol=1e-5)
    # Negative control: different weights give different outputs.
    other = GRUAgent(OBS, HIDDEN)
    assert not torch.allclose(other(obs, is_init, start)[0], cell_out, atol=1e-3)


def test_gru_reset_equals_gru_cell_from_a_zero_state(generator):
    agent = GRUResetAgent(OBS, HIDDEN)
    cell = nn.GRUCell(OBS, HIDDEN)
    with torch.no_grad():
        cell.weight_ih.copy_(agent.input_gates.weight)
        cell.bias_ih.copy_(agent.input_gates.bias)
        cell.bias_hh.copy_(agent.hidden_bias)
    obs, is_init = _sequence(generator)
    features, _ = agent(obs, is_init, agent.initial_state(obs.shape[1]))
    expected = torch.stack([cell(obs[t], torch.zeros(obs.shape[1], HIDDEN)) for t in range(obs.shape[0])])
    torch.testing.assert_close(features, expected, atol=1e-6, rtol=1e-5)


def test_window_feeds_the_last_k_observations_zero_padded_at_episode_start(generator):
    agent = WindowAgent(OBS, HIDDEN, window=3)
    obs, is_init = _sequence(generator)
    features, _ = agent(obs, is_init, agent.initial_state(obs.shape[1]))
    for t in range(obs.shape[0]):
        for b in range(obs.shape[1]):
            start = max(s for s in range(t + 1) if is_init[s, b])
            window = torch.zeros(3, OBS)
            recent = obs[max(start, t - 2) : t + 1, b]
            window[3 - len(recent) :] = recent
            out, _ = agent.rnn(window[:, None, :])
            torch.testing.assert_close(features[t, b], out[-1, 0], atol=1e-6, rtol=1e-5)


def test_window_state_carries_only_the_current_episode(generator):
    agent = WindowAgent(OBS, HIDDEN, window=3)
    obs, is_init = _sequence(generator)
    whole, _ = agent(obs, is_init, agent.initial_state(4))
    first, state = agent(obs[:5], is_init[:5], agent.initial_state(4))
    second, _ = agent(obs[5:], is_init[5:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", agents.available())
def test_every_agent_runs_stacked_over_seeds_with_vmap(name):
    """Seed batching: vmap over stacked parameters (matrix-product recurrences) equals a loop over seeds."""
    import copy

    from torch.func import functional_call, grad, stack_module_state, vmap

    from agents.recurrence import matmul_recurrence

    torch.manual_seed(0)
    seeds, steps, batch = 3, 8, 4
    models = [agents.make_agent(name, 3, 8) for _ in range(seeds)]
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")
    obs = torch.randn(seeds, steps, batch, 3)
    is_init = torch.zeros(steps, batch, dtype=torch.bool)
    is_init[0], is_init[5, 1] = True, True  # a mid-sequence episode start too
    state = models[0].initial_state(batch)

    def loss(p, b, o):
        features, _ = functional_call(skeleton, (p, b), (o, is_init, state))
        return features.square().sum()

    with matmul_recurrence():
        stacked_loss = vmap(loss)(params, buffers, obs)
        stacked_grads = vmap(grad(loss))(params, buffers, obs)
    for s, model in enumerate(models):
        model.zero_grad()
        value = model(obs[s], is_init, state)[0].square().sum()
        value.backward()
        torch.testing.assert_close(stacked_loss[s], value.detach(), rtol=1e-5, atol=1e-5)
        for param_name, param in model.named_parameters():
            torch.testing.assert_close(stacked_grads[param_name][s], param.grad, rtol=1e-4, atol=1e-5)


def _matmul_and_fused(layer, rnn, x, *states):
    """(outputs, final states, gradients w.r.t. weights, x and states) of ``layer`` fused and as matrix products."""
    runs = []
    for matmul in (False, True):
        inputs = [t.detach().clone().requires_grad_() for t in (x, *states)]
        with matmul_recurrence() if matmul else contextlib.nullcontext():
            out = layer(rnn, *inputs)
        loss = sum((o * torch.linspace(-1, 1, o.numel()).reshape(o.shape)).sum() for o in out)
        grads = torch.autograd.grad(loss, [*rnn.parameters(), *inputs])
        runs.append(([o.detach() for o in out], grads))
    return runs


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_stacked_gru_as_matrix_products_equals_nn_gru(num_layers, generator):
    torch.manual_seed(0)
    rnn = nn.GRU(OBS, HIDDEN, num_layers=num_layers)
    x = torch.randn(7, 4, OBS, generator=generator)
    h = torch.randn(num_layers, 4, HIDDEN, generator=generator)
    (fused, fused_grads), (matmul, matmul_grads) = _matmul_and_fused(gru_layer, rnn, x, h)
    assert fused[1].shape == (num_layers, 4, HIDDEN)
    for a, b in zip(matmul, fused):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    for a, b in zip(matmul_grads, fused_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # Negative control: the second layer matters (the top layer's output is not the first layer's).
    if num_layers > 1:
        first = nn.GRU(OBS, HIDDEN)
        first.load_state_dict({k: v for k, v in rnn.state_dict().items() if k.endswith("_l0")})
        assert not torch.allclose(first(x, h[:1])[0], fused[0], atol=1e-3)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_stacked_lstm_as_matrix_products_equals_nn_lstm(num_layers, generator):
    torch.manual_seed(0)
    rnn = nn.LSTM(OBS, HIDDEN, num_layers=num_layers)
    x = torch.randn(7, 4, OBS, generator=generator)
    h, c = (torch.randn(num_layers, 4, HIDDEN, generator=generator) for _ in range(2))
    (fused, fused_grads), (matmul, matmul_grads) = _matmul_and_fused(lstm_layer, rnn, x, h, c)
    for a, b in zip(matmul, fused):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    for a, b in zip(matmul_grads, fused_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_one_layer_states_keep_their_batch_first_shape_and_wrong_shapes_are_named(generator):
    rnn = nn.GRU(OBS, HIDDEN)
    x = torch.randn(5, 2, OBS, generator=generator)
    for matmul in (False, True):
        with matmul_recurrence() if matmul else contextlib.nullcontext():
            assert gru_layer(rnn, x, torch.zeros(2, HIDDEN))[1].shape == (2, HIDDEN)
            with pytest.raises(ValueError, match=r"expected \[B, H\] for one layer or \[num_layers=2, B, H\]"):
                gru_layer(nn.GRU(OBS, HIDDEN, num_layers=2), x, torch.zeros(2, HIDDEN))


def test_matmul_recurrence_refuses_what_it_does_not_compute(generator):
    x = torch.randn(5, 2, OBS, generator=generator)
    with matmul_recurrence():
        with pytest.raises(ValueError, match="dropout"):
            gru_layer(nn.GRU(OBS, HIDDEN, num_layers=2, dropout=0.5), x, torch.zeros(2, 2, HIDDEN))
        with pytest.raises(ValueError, match="unidirectional"):
            gru_layer(nn.GRU(OBS, HIDDEN, bidirectional=True), x, torch.zeros(2, HIDDEN))


def test_gru2_is_nn_gru_with_two_layers_restarted_at_each_episode(generator):
    agent = GRU2Agent(OBS, HIDDEN)
    obs, is_init = _sequence(generator)
    start = torch.randn(obs.shape[1], 2, HIDDEN, generator=generator)
    features, state = agent(obs, is_init, start)
    assert state.shape == (obs.shape[1], 2, HIDDEN)
    for b in range(obs.shape[1]):
        starts = [t for t in range(obs.shape[0]) if is_init[t, b]] + [obs.shape[0]]
        for begin, end in zip(starts[:-1], starts[1:]):
            expected, last = agent.rnn(obs[begin:end, b : b + 1], torch.zeros(2, 1, HIDDEN))
            torch.testing.assert_close(features[begin:end, b : b + 1], expected, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(state[b], last[:, 0], atol=1e-6, rtol=1e-5)
    # Matrix products (the seed-batched path) give the same.
    with matmul_recurrence():
        torch.testing.assert_close(agent(obs, is_init, start)[0], features, atol=1e-6, rtol=1e-5)
