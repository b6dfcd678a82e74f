"""Heads: log-probabilities and entropies against closed forms; sampling; bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.learn.heads import CategoricalHead, GaussianHead, head_for
from gymnasium import spaces


def test_categorical_log_prob_and_entropy_match_closed_form(generator):
    head = CategoricalHead(feature_dim=5, n_actions=4)
    features = torch.randn(3, 2, 5, generator=generator)
    dist = head(features)
    logits = head.logits(features)
    log_softmax = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    actions = torch.tensor([[0, 3], [1, 2], [3, 3]])
    expected = log_softmax.gather(-1, actions[..., None]).squeeze(-1)
    torch.testing.assert_close(dist.log_prob(actions), expected)
    probs = log_softmax.exp()
    torch.testing.assert_close(dist.entropy(), -(probs * log_softmax).sum(-1))


def test_categorical_log_prob_is_finite_for_extreme_logits():
    # log(softmax) would give -inf here; logits-based log-probs stay finite.
    head = CategoricalHead(feature_dim=1, n_actions=2)
    with torch.no_grad():
        head.logits.weight.fill_(0.0)
        head.logits.bias.copy_(torch.tensor([0.0, 200.0]))
    dist = head(torch.zeros(1, 1))
    assert torch.isfinite(dist.log_prob(torch.tensor([0]))).all()
    assert dist.log_prob(torch.tensor([0])).item() == pytest.approx(-200.0)


def test_categorical_sampling_matches_probabilities(generator):
    head = CategoricalHead(feature_dim=1, n_actions=3)
    with torch.no_grad():
        head.logits.weight.zero_()
        head.logits.bias.copy_(torch.log(torch.tensor([0.2, 0.5, 0.3])))
    dist = head(torch.zeros(20_000, 1))
    counts = torch.bincount(head.sample(dist, generator), minlength=3).float() / 20_000
    torch.testing.assert_close(counts, torch.tensor([0.2, 0.5, 0.3]), atol=0.015, rtol=0)


def _gaussian(std_mode: str) -> GaussianHead:
    return GaussianHead(6, np.array([-2.0, 0.0]), np.array([2.0, 1.0]), std_mode=std_mode, init_std=0.5)


@pytest.mark.parametrize("std_mode", ["learned", "state", "fixed"])
def test_gaussian_log_prob_and_entropy_match_closed_form(std_mode, generator):
    head = _gaussian(std_mode)
    dist = head(torch.randn(4, 6, generator=generator))
    mean, std = dist.base_dist.loc, dist.base_dist.scale
    actions = torch.randn(4, 2, generator=generator)
    expected = (-((actions - mean) ** 2) / (2 * std**2) - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
    torch.testing.assert_close(dist.log_prob(actions), expected)
    torch.testing.assert_close(dist.entropy(), (0.5 + 0.5 * math.log(2 * math.pi) + torch.log(std)).sum(-1))


def test_gaussian_entropy_is_minus_mean_log_prob(generator):
    head = _gaussian("learned")
    dist = head(torch.zeros(50_000, 6))
    samples = head.sample(dist, generator)
    monte_carlo = -dist.log_prob(samples).mean()
    assert monte_carlo.item() == pytest.approx(dist.entropy()[0].item(), abs=0.02)


def test_gaussian_mean_stays_inside_the_action_box(generator):
    head = _gaussian("learned")
    with torch.no_grad():
        head.mean.weight.normal_(0, 100.0, generator=generator)
    mean = head(torch.randn(1000, 6, generator=generator)).base_dist.loc
    assert (mean[:, 0] >= -2).all() and (mean[:, 0] <= 2).all()
    assert (mean[:, 1] >= 0).all() and (mean[:, 1] <= 1).all()


def test_initial_std_is_a_fraction_of_the_half_range():
    for mode in ("learned", "state", "fixed"):
        std = _gaussian(mode)(torch.zeros(1, 6)).base_dist.scale
        torch.testing.assert_close(std, torch.tensor([[1.0, 0.25]]), atol=2e-3, rtol=0)


def test_std_parameters_are_trainable_only_where_they_should_be():
    names = lambda mode: {n for n, _ in _gaussian(mode).named_parameters()}  # noqa: E731
    assert "log_std" in names("learned")
    assert {"std_layer.weight", "std_layer.bias"} <= names("state")
    assert not any("std" in n for n in names("fixed"))


def test_head_for_rejects_unsupported_spaces():
    with pytest.raises(TypeError, match="Discrete and Box"):
        head_for(spaces.MultiBinary(3), 4, "learned", 0.5)
