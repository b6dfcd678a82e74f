"""Adam as rpg-bench runs it: the same numbers as ``torch.optim.Adam``, without importing ``torch._dynamo``."""

from __future__ import annotations

import subprocess
import sys

import torch

from bench.learn.optim import Adam, StackedAdam


def _real_gradient_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))


def test_adam_gives_bit_identical_parameters_to_torch_adam():
    ours, theirs = _real_gradient_model(), _real_gradient_model()
    optimisers = [Adam(ours.parameters(), lr=3e-3, eps=1e-5), torch.optim.Adam(theirs.parameters(), lr=3e-3, eps=1e-5)]
    generator = torch.Generator().manual_seed(1)
    for step in range(50):
        x = torch.randn(32, 4, generator=generator)
        for model, optimiser in zip((ours, theirs), optimisers):
            optimiser.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            if step % 7 == 3:  # a parameter without a gradient this step must neither move nor count the step
                model[2].bias.grad = None
            optimiser.step()
    for mine, reference in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(mine, reference)
    assert any(not torch.equal(p, q) for p, q in zip(ours.parameters(), _real_gradient_model().parameters()))


def test_a_training_job_does_not_import_the_compiler():
    # torch.optim's first param group imports torch._dynamo and sympy: ~70 MB and ~1 s per job.
    code = ("import sys; from bench.learn.config import RunConfig; from bench.learn.train import train; "
            "train(RunConfig(agent='gru', steps=600)); train(RunConfig(agent='mlp', steps=600, backend='torch')); "
            "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', 'sympy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stacked_adam_matches_torch_adam_per_seed_and_freezes_inactive_seeds():
    torch.manual_seed(0)
    stacked = {"w": torch.randn(3, 4, 5)}
    reference = [torch.nn.Parameter(stacked["w"][s].clone()) for s in range(3)]
    optimisers = [torch.optim.Adam([p], lr=0.01, eps=1e-5) for p in reference]
    adam = StackedAdam(stacked, lr=0.01)
    active = torch.tensor([True, True, False])
    frozen = stacked["w"][2].clone()
    for step in range(1, 6):
        grads = {"w": torch.randn(3, 4, 5)}
        stacked = adam.step(stacked, grads, step, active)
        for s in (0, 1):
            reference[s].grad = grads["w"][s].clone()
            optimisers[s].step()
    for s in (0, 1):
        torch.testing.assert_close(stacked["w"][s], reference[s].detach(), rtol=1e-6, atol=1e-7)
    assert torch.equal(stacked["w"][2], frozen)
