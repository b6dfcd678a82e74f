"""Torch-native batched environments: the gymnasium dynamics on tensors of any batch shape.

Each environment is a set of pure functions of tensors shaped ``[*batch, ...]``
(for seed-batched training, ``batch = (seeds, envs)``) on any device:

- ``reset_state(uniform)``: a start state from uniforms in [0, 1) ``[*batch, reset_draws]``;
  the caller owns the random stream, so a seed's draws never depend on other seeds;
- ``step(state, action)`` -> ``(next_state, reward, terminated)``;
- ``observe(state)`` -> float32 observation ``[*batch, obs_dim]``.

Time limits (``max_episode_steps``) are applied by the collector
(``bench.learn.seed_batch.collect``). Control tasks integrate in float64,
as gymnasium does, so trajectories agree with the references to float precision
(``tests/test_torch_native.py`` drives both from identical states with identical
actions). Observations are float32, like gymnasium's.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

STATE_DTYPE = torch.float64


class TorchEnv:
    """Base: spaces, episode limit and the three pure functions."""

    observation_space: spaces.Box
    action_space: spaces.Space
    max_episode_steps: int
    state_dim: int
    reset_draws: int

    def reset_state(self, uniform: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def step(self, state: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _uniform(uniform: torch.Tensor, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * uniform.to(STATE_DTYPE)


class CartPole(TorchEnv):
    """CartPole-v1 (Euler integration, reward 1 per step); ``keep`` hides observation entries."""

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4
    max_episode_steps = 500
    state_dim = 4
    reset_draws = 4

    def __init__(self, keep: tuple[int, ...] = (0, 1, 2, 3)) -> None:
        self.keep = list(keep)
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold * 2, np.inf], dtype=np.float32)[self.keep]
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)

    def reset_state(self, uniform: torch.Tensor) -> torch.Tensor:
        return _uniform(uniform, -0.05, 0.05)

    def step(self, state, action):
        x, x_dot, theta, theta_dot = state.unbind(-1)
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        force = self._force(action)
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + polemass_length * theta_dot**2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (self.length * (4.0 / 3.0 - self.masspole * cos**2 / total_mass))
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        next_state = torch.stack([x + self.tau * x_dot, x_dot + self.tau * x_acc,
                                  theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc], dim=-1)
        nx, ntheta = next_state[..., 0], next_state[..., 2]
        terminated = (nx < -self.x_threshold) | (nx > self.x_threshold) | (ntheta < -self.theta_threshold) | (ntheta > self.theta_threshold)
        return next_state, torch.ones_like(nx, dtype=torch.float32), terminated

    def _force(self, action: torch.Tensor) -> torch.Tensor:
        return torch.where(action == 1, self.force_mag, -self.force_mag).to(STATE_DTYPE)

    def observe(self, state):
        return state[..., self.keep].to(torch.float32)


class ContinuousCartPole(CartPole):
    """CartPole pushed with ``a * 10`` N, ``a`` in ``[-1, 1]`` (``bench.envs.tasks.ContinuousForce``)."""

    def __init__(self, keep: tuple[int, ...] = (0, 1, 2, 3)) -> None:
        super().__init__(keep)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def _force(self, action: torch.Tensor) -> torch.Tensor:
        # float32 like the action gymnasium receives, then the same float64 product
        push = action[..., 0].clamp(-1.0, 1.0).to(STATE_DTYPE)
        return self.force_mag * push.abs() * torch.where(push > 0, 1.0, -1.0).to(STATE_DTYPE)


class Acrobot(TorchEnv):
    """Acrobot-v1 ("book" dynamics, RK4 over one step of dt = 0.2, no torque noise)."""

    dt = 0.2
    link_length_1 = link_mass_1 = link_mass_2 = link_moi = 1.0
    link_com_1 = link_com_2 = 0.5
    max_vel_1, max_vel_2 = 4 * math.pi, 9 * math.pi
    max_episode_steps = 500
    state_dim = 4
    reset_draws = 4

    def __init__(self) -> None:
        high = np.array([1.0, 1.0, 1.0, 1.0, self.max_vel_1, self.max_vel_2], dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Discrete(3)

    def reset_state(self, uniform):
        return _uniform(uniform, -0.1, 0.1)

    def _derivatives(self, s: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
        m1, m2, l1, lc1, lc2, i1, i2, g = (self.link_mass_1, self.link_mass_2, self.link_length_1, self.link_com_1,
                                           self.link_com_2, self.link_moi, self.link_moi, 9.8)
        theta1, theta2, dtheta1, dtheta2 = s.unbind(-1)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * torch.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * torch.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * torch.sin(theta2) - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * torch.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - math.pi / 2) + phi2)
        ddtheta2 = (torque + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * torch.sin(theta2) - phi2) / (m2 * lc2**2 + i2 - d2**2 / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return torch.stack([dtheta1, dtheta2, ddtheta1, ddtheta2], dim=-1)

    def step(self, state, action):
        torque = (action.to(STATE_DTYPE) - 1.0)  # actions 0, 1, 2 -> torque -1, 0, +1
        dt = self.dt
        k1 = self._derivatives(state, torque)
        k2 = self._derivatives(state + dt / 2.0 * k1, torque)
        k3 = self._derivatives(state + dt / 2.0 * k2, torque)
        k4 = self._derivatives(state + dt * k3, torque)
        ns = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        theta1, theta2 = _wrap(ns[..., 0]), _wrap(ns[..., 1])
        ns = torch.stack([theta1, theta2, ns[..., 2].clamp(-self.max_vel_1, self.max_vel_1),
                          ns[..., 3].clamp(-self.max_vel_2, self.max_vel_2)], dim=-1)
        terminated = -torch.cos(theta1) - torch.cos(theta2 + theta1) > 1.0
        reward = torch.where(terminated, 0.0, -1.0).to(torch.float32)
        return ns, reward, terminated

    def observe(self, state):
        t1, t2, d1, d2 = state.unbind(-1)
        return torch.stack([torch.cos(t1), torch.sin(t1), torch.cos(t2), torch.sin(t2), d1, d2], dim=-1).to(torch.float32)


def _wrap(x: torch.Tensor) -> torch.Tensor:
    """Wrap into [-pi, pi] the way gymnasium's acrobot does (subtract/add 2 pi while outside)."""
    two_pi = 2 * math.pi
    above = torch.ceil(((x - math.pi) / two_pi).clamp(min=0))
    below = torch.ceil(((-math.pi - x) / two_pi).clamp(min=0))
    return x - above * two_pi + below * two_pi


class Pendulum(TorchEnv):
    """Pendulum-v1 (g = 10); ``keep`` hides observation entries."""

    max_speed, max_torque, dt, g, mass, length = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
    max_episode_steps = 200
    state_dim = 2
    reset_draws = 2

    def __init__(self, keep: tuple[int, ...] = (0, 1, 2)) -> None:
        self.keep = list(keep)
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)[self.keep]
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.action_space = spaces.Box(-self.max_torque, self.max_torque, shape=(1,), dtype=np.float32)

    def reset_state(self, uniform):
        high = torch.tensor([math.pi, 1.0], dtype=STATE_DTYPE, device=uniform.device)
        return -high + 2 * high * uniform.to(STATE_DTYPE)

    def step(self, state, action):
        th, thdot = state.unbind(-1)
        # gymnasium clips the float32 action and computes with it as a float32 scalar.
        u = action[..., 0].to(torch.float32).clamp(-self.max_torque, self.max_torque).to(STATE_DTYPE)
        normalised = torch.remainder(th + math.pi, 2 * math.pi) - math.pi
        costs = normalised**2 + 0.1 * thdot**2 + 0.001 * u**2
        new_thdot = (thdot + (3 * self.g / (2 * self.length) * torch.sin(th) + 3.0 / (self.mass * self.length**2) * u) * self.dt)
        new_thdot = new_thdot.clamp(-self.max_speed, self.max_speed)
        new_th = th + new_thdot * self.dt
        return torch.stack([new_th, new_thdot], dim=-1), (-costs).to(torch.float32), torch.zeros_like(th, dtype=torch.bool)

    def observe(self, state):
        th, thdot = state.unbind(-1)
        return torch.stack([torch.cos(th), torch.sin(th), thdot], dim=-1)[..., self.keep].to(torch.float32)


class MountainCarContinuous(TorchEnv):
    """MountainCarContinuous-v0; gymnasium keeps this state in float32, so does this."""

    min_position, max_position, max_speed, goal_position, power = -1.2, 0.6, 0.07, 0.45, 0.0015
    max_episode_steps = 999
    state_dim = 2
    reset_draws = 1

    def __init__(self) -> None:
        self.observation_space = spaces.Box(np.array([self.min_position, -self.max_speed], dtype=np.float32),
                                            np.array([self.max_position, self.max_speed], dtype=np.float32), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def reset_state(self, uniform):
        position = _uniform(uniform[..., 0], -0.6, -0.4)
        return torch.stack([position, torch.zeros_like(position)], dim=-1)

    def step(self, state, action):
        position, velocity = state[..., 0].to(torch.float32), state[..., 1].to(torch.float32)
        raw = action[..., 0].to(torch.float32)
        force = raw.clamp(-1.0, 1.0)
        # cos in float64 then rounded, as numpy does for a float32 scalar passed to math.cos.
        velocity = velocity + (force * self.power - (0.0025 * torch.cos(3 * position.double())).float())
        velocity = velocity.clamp(-self.max_speed, self.max_speed)
        position = (position + velocity).clamp(self.min_position, self.max_position)
        velocity = torch.where((position == self.min_position) & (velocity < 0), torch.zeros_like(velocity), velocity)
        terminated = (position >= self.goal_position) & (velocity >= 0)
        reward = torch.where(terminated, 100.0, 0.0) - raw.double() ** 2 * 0.1
        return torch.stack([position, velocity], dim=-1).to(STATE_DTYPE), reward.to(torch.float32), terminated

    def observe(self, state):
        return state.to(torch.float32)


class DigitMatch(TorchEnv):
    """See a one-hot digit in [0, n), name it; reward -|action - digit|; one step."""

    max_episode_steps = 1
    state_dim = 1
    reset_draws = 1

    def __init__(self, n: int) -> None:
        self.n = n
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n,), dtype=np.float32)
        self.action_space = spaces.Discrete(n)

    def reset_state(self, uniform):
        return torch.floor(uniform[..., :1].to(STATE_DTYPE) * self.n).clamp(max=self.n - 1)

    def step(self, state, action):
        reward = -(action.to(STATE_DTYPE) - state[..., 0]).abs()
        return state, reward.to(torch.float32), torch.ones_like(reward, dtype=torch.bool)

    def observe(self, state):
        return torch.nn.functional.one_hot(state[..., 0].long(), self.n).to(torch.float32)


class GaussianTarget(TorchEnv):
    """One continuous action in [-10, 10]; reward -(action - 3)^2; one step."""

    max_episode_steps = 1
    state_dim = 1
    reset_draws = 1

    def __init__(self) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Box(-10.0, 10.0, shape=(1,), dtype=np.float32)

    def reset_state(self, uniform):
        return torch.zeros_like(uniform[..., :1], dtype=STATE_DTYPE)

    def step(self, state, action):
        value = action[..., 0].to(STATE_DTYPE).clamp(-10.0, 10.0)
        return state, (-(value - 3.0) ** 2).to(torch.float32), torch.ones_like(value, dtype=torch.bool)

    def observe(self, state):
        return torch.ones_like(state, dtype=torch.float32)


class CueRecall(TorchEnv):
    """A cue shown at step 0 must be named at step ``delay``; state = (cue, t)."""

    state_dim = 2
    reset_draws = 1

    def __init__(self, n_cues: int = 4, delay: int = 6) -> None:
        self.n_cues, self.delay = n_cues, delay
        self.max_episode_steps = delay + 1
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n_cues + 1,), dtype=np.float32)
        self.action_space = spaces.Discrete(n_cues)

    def reset_state(self, uniform):
        cue = torch.floor(uniform[..., :1].to(STATE_DTYPE) * self.n_cues).clamp(max=self.n_cues - 1)
        return torch.cat([cue, torch.zeros_like(cue)], dim=-1)

    def step(self, state, action):
        cue, t = state.unbind(-1)
        at_query = t == self.delay
        reward = torch.where(at_query & (action.to(STATE_DTYPE) == cue), 1.0, 0.0).to(torch.float32)
        return torch.stack([cue, t + 1], dim=-1), reward, at_query

    def observe(self, state):
        cue, t = state.unbind(-1)
        shown = torch.nn.functional.one_hot(cue.long(), self.n_cues).to(torch.float32) * (t == 0)[..., None]
        return torch.cat([shown, (t == self.delay).to(torch.float32)[..., None]], dim=-1)


def make_torch_env(env_id: str) -> TorchEnv:
    """The torch-native twin of a benchmark environment; ``KeyError`` lists the ids that have one."""
    factories = {
        "CartPole-v1": CartPole, "CartPole-P": lambda: CartPole(keep=(0, 2)), "Acrobot-v1": Acrobot,
        "ContinuousCartPole": ContinuousCartPole, "ContinuousCartPole-P": lambda: ContinuousCartPole(keep=(0, 2)),
        "Pendulum-v1": Pendulum, "Pendulum-P": lambda: Pendulum(keep=(0, 1)),
        "MountainCarContinuous-v0": MountainCarContinuous, "DigitMatch-10": lambda: DigitMatch(10),
        "DigitMatch-100": lambda: DigitMatch(100), "GaussianTarget": GaussianTarget, "CueRecall": CueRecall,
    }
    if env_id not in factories:
        raise KeyError(f"no torch-native version of {env_id!r}; valid choices: {', '.join(factories)}")
    return factories[env_id]()


TORCH_NATIVE_IDS = ("CartPole-v1", "CartPole-P", "ContinuousCartPole", "ContinuousCartPole-P", "Acrobot-v1",
                    "Pendulum-v1", "Pendulum-P", "MountainCarContinuous-v0", "DigitMatch-10", "DigitMatch-100", "GaussianTarget", "CueRecall")
