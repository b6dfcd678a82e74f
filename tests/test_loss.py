"""The loss split over column chunks: the same loss and gradients as one pass, with bounded activations."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest
import torch

import agents
from bench.learn.config import RunConfig, validate
from bench.learn.loss import (PolicyTerms, column_chunks, critic_rows, policy_gradient_loss, value_loss,
                              value_loss_of_rows)
from bench.learn.policy import build_policy
from bench.learn.rollout import Rollout

OBS_DIM = 3


def _rollout(steps: int, batch: int, seed: int = 0) -> Rollout:
    """Episodes of different lengths, some terminated and some truncated, padded to ``steps``."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (batch,), generator=generator)
    lengths[0] = steps
    t = torch.arange(steps)[:, None]
    valid = t < lengths
    ended = t == lengths - 1
    truncated = ended & (torch.arange(batch) % 3 == 0)
    is_init = torch.zeros(steps + 1, batch, dtype=torch.bool)
    is_init[0] = True
    return Rollout(obs=torch.randn(steps + 1, batch, OBS_DIM, generator=generator), is_init=is_init,
                   actions=torch.randint(0, 2, (steps, batch), generator=generator),
                   rewards=torch.randn(steps, batch, generator=generator) * valid,
                   terminated=ended & ~truncated, truncated=truncated, valid=valid)


def _policy(agent: str, config: RunConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    space = gym.spaces.Box(-1.0, 1.0, shape=(OBS_DIM,))
    return build_policy(config, space, gym.spaces.Discrete(2), time_limit=10)


def _loss_and_gradients(policy, rollout, config, running_mean, chunks):
    policy.zero_grad(set_to_none=True)
    parts = []
    scale = (torch.tensor(0.5), torch.tensor(2.0))  # the critic's target moments, as after some updates
    for columns in chunks:
        part = policy_gradient_loss(policy, rollout, config, running_mean, columns, scale=scale)
        total = part.total
        if policy.critic is not None:
            total = total + value_loss(policy, rollout, config, scale, columns)
        total.backward()
        parts.append(part)
    return PolicyTerms.sum(parts), [p.grad.clone() for p in policy.parameters()]


@pytest.mark.parametrize(
    "steps, num_envs, max_rows, widths",
    [(9, 16, None, None), (9, 16, 160, None), (9, 16, 159, [8, 8]), (9, 16, 55, [4, 4, 4, 4]), (9, 10, 30, [2, 3, 2, 3]),
     (9, 3, 7, [1, 1, 1]), (999, 16, 2048, [2] * 8), (500, 16, 8192, None)],
)
def test_column_chunks_partition_the_episodes_and_fit_the_limit(steps, num_envs, max_rows, widths):
    chunks = column_chunks(steps, num_envs, max_rows)
    if widths is None:
        assert chunks == [None]
        return
    assert [c.stop - c.start for c in chunks] == widths
    assert chunks[0].start == 0 and chunks[-1].stop == num_envs
    assert all(a.stop == b.start for a, b in zip(chunks, chunks[1:]))
    assert all((steps + 1) * (c.stop - c.start) <= max_rows for c in chunks) or max(widths) == 1


@pytest.mark.parametrize("agent", agents.available())
@pytest.mark.parametrize("baseline, normalize", [("critic", True), ("running_mean", True), ("none", False)])
def test_chunked_loss_and_gradients_equal_one_pass(agent, baseline, normalize):
    # Each chunk is scaled by the whole batch's valid steps and normalised with the
    # whole batch's advantage moments, so the chunks add up to the one-pass loss.
    config = validate(RunConfig(agent=agent, baseline=baseline, normalize_returns=normalize, steps=1, hidden_size=8))
    policy = _policy(agent, config)
    rollout = _rollout(steps=12, batch=7)
    running_mean = torch.tensor(0.3) if baseline == "running_mean" else None
    whole, whole_grads = _loss_and_gradients(policy, rollout, config, running_mean, [None])
    chunks = column_chunks(12, 7, max_rows=13 * 3)
    assert len(chunks) == 3
    split, split_grads = _loss_and_gradients(policy, rollout, config, running_mean, chunks)
    for field in dataclasses.fields(PolicyTerms):
        torch.testing.assert_close(getattr(split, field.name), getattr(whole, field.name), rtol=1e-5, atol=1e-6)
    for name, (mine, reference) in zip([n for n, _ in policy.named_parameters()], zip(split_grads, whole_grads)):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-6, msg=name)


def _saved_bytes(policy, rollout, config, columns) -> int:
    """Bytes of the tensors autograd keeps for backward while one chunk's loss is built."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        policy_gradient_loss(policy, rollout, config, None, columns)
    return sum(storages.values())


@pytest.mark.parametrize("agent", agents.available())
def test_activations_kept_for_backward_stay_bounded_on_the_longest_episodes(agent):
    # 999 steps x 16 episodes (MountainCarContinuous's time limit): one pass of the
    # window agent would keep ~330 MB; every agent's largest chunk must stay under 80 MB.
    config = validate(RunConfig(agent=agent, steps=1))
    policy = _policy(agent, config)
    rollout = _rollout(steps=999, batch=16)
    max_rows = agents.agent_class(agent).max_loss_rows
    chunks = column_chunks(999, 16, max_rows)
    largest = max(chunks, key=lambda c: 16 if c is None else c.stop - c.start)
    assert _saved_bytes(policy, rollout, config, largest) <= 80e6
    if agent == "window":
        assert len(chunks) > 1 and _saved_bytes(policy, rollout, config, None) > 80e6


def test_a_split_training_update_shares_one_computation_of_the_moments(monkeypatch):
    from bench.learn import loss as loss_module
    from bench.learn import train as train_module

    config = validate(RunConfig(agent="gru", baseline="critic", normalize_returns=True, steps=1, hidden_size=8))
    policy = _policy("gru", config)
    rollout = _rollout(steps=12, batch=7)
    scale = (torch.tensor([0.5]), torch.tensor([2.0]))
    learner = train_module.GymLearner(policy, config)
    active = torch.ones(1, dtype=torch.bool)
    whole_grads, whole = learner.policy_gradients(rollout, None, scale, active)
    monkeypatch.setattr(policy.agent, "max_loss_rows", 13 * 2)
    calls, original = [], loss_module.advantage_moments
    counted = lambda *args: calls.append(1) or original(*args)  # noqa: E731
    monkeypatch.setattr(train_module, "advantage_moments", counted)
    monkeypatch.setattr(loss_module, "advantage_moments", lambda *args: pytest.fail("moments recomputed per part"))
    split_grads, split = learner.policy_gradients(rollout, None, scale, active)
    assert len(calls) == 1
    torch.testing.assert_close(split["total"], whole["total"], rtol=1e-5, atol=1e-6)
    assert set(split_grads) == {n for n, _ in policy.named_parameters() if not n.startswith("critic.")}
    for name in whole_grads:
        torch.testing.assert_close(split_grads[name], whole_grads[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("agent, settings", [("mlp", {}), ("mlp", {"critic_time": True}), ("gru", {}),
                                             ("window", {"critic_time": True})])
def test_the_valid_rows_of_a_memoryless_critic_give_the_padded_loss_and_its_gradients(agent, settings):
    # Single runs fit a memoryless critic on its valid rows only: the padded rows value_loss masks out
    # must change nothing but the rounding (the clock is the row's step, read before the rows are taken).
    config = validate(RunConfig(agent=agent, baseline="critic", hidden_size=8, **settings))
    policy, rollout = _policy(agent, config), _rollout(9, 6)
    scale = (torch.tensor(0.5), torch.tensor(2.0))
    targets = torch.randn(9, 6, generator=torch.Generator().manual_seed(1))
    features = policy.actor_features(rollout.obs, rollout.is_init)
    rows = critic_rows(policy, rollout, targets, features)
    assert rows is not None and rows[0].shape[0] == int(rollout.valid.sum()) == rows[1].shape[0]
    critic = [p for p in policy.critic.parameters()]
    padded = value_loss(policy, rollout, config, scale, None, targets, features)
    compact = value_loss_of_rows(policy, *rows, scale)
    torch.testing.assert_close(compact, padded)
    for a, b in zip(torch.autograd.grad(compact, critic), torch.autograd.grad(padded, critic)):
        torch.testing.assert_close(a, b)
    # A padded row's input, if it were read, would change the loss: the rows left out are exactly those.
    padding = ~rollout.valid
    assert bool(padding.any())
    rollout.obs[:9][padding] += 100.0
    torch.testing.assert_close(value_loss_of_rows(policy, *critic_rows(policy, rollout, targets, features), scale),
                               compact)


def test_a_critic_with_its_own_memory_is_fitted_on_sequences_not_rows():
    config = validate(RunConfig(agent="gru", baseline="critic", critic_memory="own", hidden_size=8))
    policy = _policy("gru", config)
    assert critic_rows(policy, _rollout(9, 6), torch.zeros(9, 6), None) is None
    with pytest.raises(ValueError, match="reads sequences, not rows"):
        policy.critic.value_of_rows(torch.zeros(4, OBS_DIM))
