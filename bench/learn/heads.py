"""Action heads chosen from the action space, and the value head.

A head owns its layer and builds a fresh ``torch.distributions`` object on each
call. Log-probabilities always come from the distribution (logits for
Categorical), never from ``log(softmax(.))``. Sampling takes an explicit
``torch.Generator`` so that a run is a function of its seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Independent, Normal

StdMode = Literal["learned", "state", "fixed"]
STD_MODES: tuple[str, ...] = ("learned", "state", "fixed")
MIN_STD = 1e-3  # the smallest std any Gaussian head gives, learned or state-dependent


class CategoricalHead(nn.Module):
    """Linear logits over ``n`` discrete actions.

    Sampling is split in two: noise drawn by the caller (``noise_kind``, shape
    ``[..., noise_size]``) and ``sample_with_noise``, a pure function of it, so
    seed-batched training can supply counter-based noise (``bench.learn.counter_rng``).
    """

    noise_kind = "uniform"

    def __init__(self, feature_dim: int, n_actions: int) -> None:
        super().__init__()
        self.noise_size = n_actions
        self.logits = nn.Linear(feature_dim, n_actions)
        # Small final layer: a near-uniform policy at the start (as in CleanRL/SB3).
        nn.init.orthogonal_(self.logits.weight, gain=0.01)
        nn.init.zeros_(self.logits.bias)

    def forward(self, features: torch.Tensor) -> Categorical:
        """features: [..., F] -> Categorical with batch shape [...]."""
        return Categorical(logits=self.logits(features))

    @staticmethod
    def sample_with_noise(dist: Categorical, uniform: torch.Tensor) -> torch.Tensor:
        """Gumbel-max sample from the logits and uniforms ``[..., n]``: [...] int64."""
        gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-20)))
        return torch.argmax(dist.logits + gumbel, dim=-1)

    def sample(self, dist: Categorical, generator: torch.Generator) -> torch.Tensor:
        uniform = torch.rand(dist.logits.shape, generator=generator, device=dist.logits.device)
        return self.sample_with_noise(dist, uniform)

    @staticmethod
    def mode(dist: Categorical) -> torch.Tensor:
        """Most likely action: [...] int64."""
        return torch.argmax(dist.logits, dim=-1)


class GaussianHead(nn.Module):
    """Diagonal Gaussian over a ``Box`` action; the mean is tanh-scaled into the box.

    ``std_mode``: ``learned`` (a state-independent log-std parameter),
    ``state`` (softplus of a linear layer of the features), or ``fixed``.
    Sampling noise: standard normals ``[..., action_dim]`` (see ``CategoricalHead``).
    """

    noise_kind = "normal"

    def __init__(
        self,
        feature_dim: int,
        low: np.ndarray,
        high: np.ndarray,
        std_mode: StdMode = "learned",
        init_std: float = 0.5,
    ) -> None:
        super().__init__()
        if std_mode not in STD_MODES:
            raise ValueError(f"unknown std_mode {std_mode!r}; valid choices: {', '.join(STD_MODES)}")
        action_dim = int(np.prod(low.shape))
        self.std_mode = std_mode
        self.noise_size = action_dim
        self.mean = nn.Linear(feature_dim, action_dim)
        nn.init.orthogonal_(self.mean.weight, gain=0.01)
        nn.init.zeros_(self.mean.bias)
        low_t = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
        high_t = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
        self.bounded = bool(torch.isfinite(low_t).all() and torch.isfinite(high_t).all())
        centre = (high_t + low_t) / 2 if self.bounded else torch.zeros(action_dim)
        half_range = (high_t - low_t) / 2 if self.bounded else torch.ones(action_dim)
        self.register_buffer("centre", centre)
        self.register_buffer("half_range", half_range)
        # The initial std is relative to the action range.
        std0 = init_std * half_range
        if std_mode == "learned":
            self.log_std = nn.Parameter(torch.log(std0))
        elif std_mode == "state":
            self.std_layer = nn.Linear(feature_dim, action_dim)
            nn.init.orthogonal_(self.std_layer.weight, gain=0.01)
            # softplus(bias) == std0 at the start.
            self.std_layer.bias.data = torch.log(torch.expm1(std0))
        else:
            self.register_buffer("fixed_std", std0)

    def forward(self, features: torch.Tensor) -> Independent:
        """features: [..., F] -> Independent(Normal) with batch shape [...], event [action_dim]."""
        raw = self.mean(features)
        mean = self.centre + self.half_range * torch.tanh(raw) if self.bounded else raw
        if self.std_mode == "learned":
            # Floored as the state-dependent std is: a log_std driven far down must not make
            # log-probabilities blow up (the floor passes no gradient below it).
            std = self.log_std.exp().clamp(min=MIN_STD).expand_as(mean)
        elif self.std_mode == "state":
            std = F.softplus(self.std_layer(features)) + MIN_STD
        else:
            std = self.fixed_std.expand_as(mean)
        return Independent(Normal(mean, std), 1)

    @staticmethod
    def sample_with_noise(dist: Independent, noise: torch.Tensor) -> torch.Tensor:
        """mean + std * noise: [..., action_dim]; the environment clips to its box."""
        base: Normal = dist.base_dist
        return base.loc + base.scale * noise

    def sample(self, dist: Independent, generator: torch.Generator) -> torch.Tensor:
        base: Normal = dist.base_dist
        return self.sample_with_noise(dist, torch.randn(base.loc.shape, generator=generator, device=base.loc.device))

    @staticmethod
    def mode(dist: Independent) -> torch.Tensor:
        return dist.base_dist.loc


class ValueHead(nn.Module):
    """State value V(s): [..., F] -> [...]."""

    def __init__(self, feature_dim: int) -> None:
        super().__init__()
        self.value = nn.Linear(feature_dim, 1)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.value(features).squeeze(-1)


def head_for(space: spaces.Space, feature_dim: int, std_mode: StdMode, init_std: float) -> nn.Module:
    """The action head for a gymnasium action space."""
    if isinstance(space, spaces.Discrete):
        return CategoricalHead(feature_dim, int(space.n))
    if isinstance(space, spaces.Box):
        return GaussianHead(feature_dim, space.low, space.high, std_mode, init_std)
    raise TypeError(f"unsupported action space {space}; rpg-bench supports Discrete and Box")
