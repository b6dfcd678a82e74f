"""Adam, written out so that a training job does not import ``torch._dynamo``.

``torch.optim.Optimizer.add_param_group`` is wrapped in ``torch._disable_dynamo``,
whose first call imports ``torch._dynamo`` (and sympy): about 70 MB of resident
memory and a second of start-up in every job, for a compiler rpg-bench never
uses. The arithmetic below is ``torch.optim.Adam``'s single-tensor path (the one
it takes on CPU) operation for operation, without weight decay or amsgrad;
``tests/test_optim.py`` checks that both give bit-identical parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class Adam:
    """Adam on a fixed list of parameters, updated in place from their ``.grad``."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [0] * len(self.params)  # per parameter, as torch's (one without a gradient does not step)

    def zero_grad(self) -> None:
        """Drop the gradients (as ``set_to_none=True``): the next backward allocates fresh ones."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step for every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for i, (param, exp_avg, exp_avg_sq) in enumerate(zip(self.params, self.exp_avg, self.exp_avg_sq)):
            if param.grad is None:
                continue
            self.steps[i] += 1
            step_size = self.lr / (1 - beta1 ** self.steps[i])
            bias_correction2_sqrt = (1 - beta2 ** self.steps[i]) ** 0.5
            grad = param.grad
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


class StackedAdam:
    """``torch.optim.Adam`` (no weight decay, no amsgrad) on parameters stacked over seeds.

    Adam is elementwise, so one update of the stack is S independent updates.
    ``active: [S]`` bool leaves frozen seeds (parameters and moments) untouched.
    """

    def __init__(self, params: dict[str, torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-5) -> None:
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = {name: torch.zeros_like(p) for name, p in params.items()}
        self.exp_avg_sq = {name: torch.zeros_like(p) for name, p in params.items()}

    def step(self, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], step: int,
             active: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameters after Adam step number ``step`` (1-based; the same for every active seed)."""
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        updated = {}
        for name, param in params.items():
            keep = active.reshape((-1,) + (1,) * (param.dim() - 1))
            g = grads[name]
            exp_avg = torch.lerp(self.exp_avg[name], g, 1 - beta1)
            exp_avg_sq = self.exp_avg_sq[name] * beta2 + (1 - beta2) * g * g
            denom = exp_avg_sq.sqrt() / bias_correction2_sqrt + self.eps
            self.exp_avg[name] = torch.where(keep, exp_avg, self.exp_avg[name])
            self.exp_avg_sq[name] = torch.where(keep, exp_avg_sq, self.exp_avg_sq[name])
            updated[name] = torch.where(keep, param - step_size * exp_avg / denom, param)
        return updated
