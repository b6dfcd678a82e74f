"""Agent variants: registry, GRUCell == GRU layer, the reset control, the window."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import agents
from agents.gru import GRUAgent
from agents.gru_cell import GRUCellAgent
from agents.gru_reset import GRUResetAgent
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
    assert {"mlp", "gru_cell", "gru", "window", "gru_reset"} <= set(agents.available())


def test_unknown_agent_names_the_valid_choices():
    with pytest.raises(KeyError, match="valid choices: .*gru_cell"):
        agents.agent_class("transformer-xl")


@pytest.mark.parametrize("name", ["mlp", "gru_cell", "gru", "window", "gru_reset"])
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
