"""Seed batches keep freed memory for reuse: a step stops paying page faults for its tensors."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

import bench.learn.seed_batch
from bench.learn.config import RunConfig
from bench.learn.seed_batch import train_seed_batch
from bench.learn.train import train

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="mallopt thresholds are glibc's")

# A loss-sized backward pass, repeated: [64, 16, 64] float32 tensors (256 KB), as in a seed batch.
_WORKLOAD = textwrap.dedent("""
    import resource, sys
    import torch
    if sys.argv[1] == "keep":
        from bench.learn.allocator import keep_freed_memory
        assert keep_freed_memory()
    torch.set_num_threads(1)
    x = torch.randn(64, 16, 64, requires_grad=True)
    g = torch.randn(64, 16, 64)
    def step():
        torch.autograd.grad(torch.sigmoid(x * 2) * 2 - 1, x, g)
    for _ in range(20):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(200):
        step()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _page_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _WORKLOAD, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@glibc_only
def test_kept_memory_removes_the_page_faults_of_repeated_steps():
    # Measured: ~2,300 minor faults with glibc's defaults, ~100 with the thresholds raised.
    default, kept = _page_faults("default"), _page_faults("keep")
    assert kept * 5 < default, f"page faults: {kept} with freed memory kept vs {default} with glibc's defaults"


def test_seed_batches_keep_freed_memory_and_single_runs_do_not(monkeypatch):
    calls = []
    monkeypatch.setattr(bench.learn.seed_batch, "keep_freed_memory", lambda: calls.append(True) or True)
    train_seed_batch([RunConfig(agent="mlp", steps=200, eval_episodes=1, backend="torch", seed=s) for s in (0, 1)])
    assert len(calls) == 1
    train(RunConfig(agent="mlp", steps=200, eval_episodes=1))  # gym backend: glibc's defaults
    assert len(calls) == 1
