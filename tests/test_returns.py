"""Returns-to-go against hand-computed values, across episode boundaries."""

from __future__ import annotations

import torch

from bench.learn.returns import discounted_returns, generalized_advantages


def _col(values):
    return torch.tensor(values, dtype=torch.float32)[:, None]


def _flags(values):
    return torch.tensor(values, dtype=torch.bool)[:, None]


def test_returns_stop_at_termination_and_restart():
    # Episode A: rewards 1, 2 (terminates at t=1); episode B: 3, 4 (runs on past the cut).
    rewards = _col([1.0, 2.0, 3.0, 4.0])
    terminated = _flags([False, True, False, False])
    truncated = _flags([False, False, False, False])
    next_values = _col([0.0, 0.0, 0.0, 10.0])  # bootstrap at the rollout cut only
    got = discounted_returns(rewards, terminated, truncated, next_values, gamma=0.5)
    # A: G1 = 2, G0 = 1 + 0.5*2 = 2; B: G3 = 4 + 0.5*10 = 9, G2 = 3 + 0.5*9 = 7.5
    torch.testing.assert_close(got, _col([2.0, 2.0, 7.5, 9.0]))


def test_truncation_bootstraps_and_does_not_leak_the_next_episode():
    rewards = _col([1.0, 1.0, 100.0])
    terminated = _flags([False, False, True])
    truncated = _flags([False, True, False])
    next_values = _col([0.0, 4.0, 0.0])  # V(final obs of episode A) = 4
    got = discounted_returns(rewards, terminated, truncated, next_values, gamma=0.9)
    # A: G1 = 1 + 0.9*4 = 4.6, G0 = 1 + 0.9*4.6 = 5.14; the 100 of episode B never reaches A.
    torch.testing.assert_close(got, _col([5.14, 4.6, 100.0]))


def test_termination_wins_over_truncation():
    got = discounted_returns(_col([1.0]), _flags([True]), _flags([True]), _col([50.0]), gamma=1.0)
    torch.testing.assert_close(got, _col([1.0]))


def test_zero_bootstrap_treats_truncation_as_terminal():
    got = discounted_returns(_col([1.0, 1.0]), _flags([False, False]), _flags([False, True]), _col([0.0, 0.0]), 1.0)
    torch.testing.assert_close(got, _col([2.0, 1.0]))


def test_columns_are_independent_and_gamma_matters():
    rewards = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 5.0]])
    terminated = torch.tensor([[False, False], [False, False], [True, True]])
    truncated = torch.zeros_like(terminated)
    got = discounted_returns(rewards, terminated, truncated, torch.zeros(3, 2), gamma=0.5)
    torch.testing.assert_close(got, torch.tensor([[1.75, 1.25], [1.5, 2.5], [1.0, 5.0]]))
    undiscounted = discounted_returns(rewards, terminated, truncated, torch.zeros(3, 2), gamma=1.0)
    assert undiscounted[0, 0].item() == 3.0  # negative control: gamma changes the answer


def _step_by_step_returns(rewards, terminated, truncated, next_values, gamma):
    """The recursion one step and one flag at a time, as written in the docstring."""
    returns, running = torch.empty_like(rewards), next_values[-1]
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = torch.where(truncated[t], next_values[t], running)
        running = torch.where(terminated[t], torch.zeros_like(running), running)
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def _step_by_step_gae(rewards, terminated, truncated, values, gamma, lam):
    ended, advantages, running = terminated | truncated, torch.empty_like(rewards), torch.zeros_like(values[-1])
    for t in range(rewards.shape[0] - 1, -1, -1):
        next_value = torch.where(ended[t], torch.zeros_like(running), values[t + 1])
        running = torch.where(ended[t], torch.zeros_like(running), running)
        running = rewards[t] + gamma * next_value - values[t] + gamma * lam * running
        advantages[t] = running
    return advantages


def test_the_loops_round_exactly_as_the_step_by_step_recursion():
    # The flags are selected for all steps at once and the TD errors computed in one pass: the
    # same floating-point operations per element, so runs stay bit for bit (float32, large rewards).
    generator = torch.Generator().manual_seed(0)
    for trial in range(50):
        steps, batch = int(torch.randint(1, 40, (1,), generator=generator)), int(torch.randint(1, 6, (1,), generator=generator))
        rewards = torch.randn(steps, batch, generator=generator) * 100
        terminated = torch.rand(steps, batch, generator=generator) < 0.15
        truncated = torch.rand(steps, batch, generator=generator) < 0.15
        values = torch.randn(steps + 1, batch, generator=generator) * 50
        gamma, lam = (0.99, 0.95) if trial % 2 else tuple(torch.rand(2, generator=generator).tolist())
        assert torch.equal(discounted_returns(rewards, terminated, truncated, values[1:], gamma),
                           _step_by_step_returns(rewards, terminated, truncated, values[1:], gamma))
        assert torch.equal(generalized_advantages(rewards, terminated, truncated, values, gamma, lam),
                           _step_by_step_gae(rewards, terminated, truncated, values, gamma, lam))
