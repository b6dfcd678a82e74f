"""The gradient doctor passes every registered agent and rejects broken ones."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import agents
from agents.mlp import MLPAgent
from bench.learn.doctor import run_doctor
from tests.broken_agents.no_reset import NoResetAgent
from tests.conftest import ROOT


def test_every_registered_agent_passes():
    results = run_doctor()
    failures = [r for r in results if r.status == "FAIL"]
    assert failures == []
    # Every learning rule the paper trains with is checked, CartPole-P's actor-critic included.
    assert {r.baseline for r in results if r.check == "gradients"} == {"none", "running_mean", "critic", "critic+gae",
                                                                       "critic+clock", "critic+own"}


@pytest.fixture
def broken_agent():
    """Seed 004's bug: the features feeding the Gaussian mean go through .detach()."""

    @agents.register("broken_detach")
    class DetachedAgent(MLPAgent):
        def forward(self, obs, is_init, state):
            features, state = super().forward(obs, is_init, state)
            return features.detach(), state

    yield "broken_detach"
    agents.unregister("broken_detach")


def test_the_actor_critic_setup_checks_the_gae_path_with_normalised_advantages(monkeypatch):
    import bench.learn.loss as loss
    from bench.learn.doctor import check_loss_and_gradients

    calls = []
    real = loss.generalized_advantages
    monkeypatch.setattr(loss, "generalized_advantages", lambda *args: calls.append(args) or real(*args))
    moments = []
    real_moments = loss._moments
    monkeypatch.setattr(loss, "_moments", lambda *args: moments.append(args) or real_moments(*args))
    assert {r.status for r in check_loss_and_gradients("gru", "categorical", "critic")} == {"PASS"}
    assert calls == [] and moments == []  # REINFORCE with the critic: neither GAE nor normalisation
    assert {r.status for r in check_loss_and_gradients("gru", "categorical", "critic+gae")} == {"PASS"}
    assert calls and moments


def test_the_clock_setup_checks_a_critic_that_reads_the_time(monkeypatch):
    from bench.learn.doctor import SYNTHETIC_TIME_LIMIT, check_loss_and_gradients
    from bench.learn.policy import Critic

    clocks = []
    real = Critic.forward
    monkeypatch.setattr(Critic, "forward", lambda self, obs, is_init, features=None: clocks.append(self.time_limit)
                        or real(self, obs, is_init, features))
    assert {r.status for r in check_loss_and_gradients("lstm", "gaussian-state", "critic+clock")} == {"PASS"}
    assert clocks and set(clocks) == {SYNTHETIC_TIME_LIMIT}
    clocks.clear()
    check_loss_and_gradients("lstm", "gaussian-state", "critic")
    assert clocks and set(clocks) == {None}  # the default critic is blind to the time


def test_doctor_rejects_a_detached_agent_and_names_it(broken_agent):
    results = run_doctor([broken_agent])
    failed = {(r.check, r.head) for r in results if r.status == "FAIL"}
    assert ("gradients", "gaussian-learned") in failed
    detail = next(r.detail for r in results if r.status == "FAIL" and r.check == "gradients")
    assert "agent.net.0.weight" in detail and "no gradient" in detail


@pytest.fixture
def leaky_agent():
    """A GRU that forgets to reset its state at episode starts."""

    agents.register("leaky_gru")(NoResetAgent)
    yield "leaky_gru"
    agents.unregister("leaky_gru")


def test_doctor_catches_state_leaking_across_episodes(leaky_agent):
    results = {r.check: r for r in run_doctor([leaky_agent]) if r.head == "-"}
    assert results["no_leak"].status == "FAIL"
    assert results["reset_matters"].status == "FAIL"


@pytest.fixture
def non_scalar_loss_agent(monkeypatch):
    """Seed 000's bug: a loss that is a vector, not a scalar."""
    import bench.learn.doctor as doctor
    original = doctor.combined_loss

    def vector_loss(*args, **kwargs):
        return original(*args, **kwargs) * torch.ones(3)

    monkeypatch.setattr(doctor, "combined_loss", vector_loss)


def test_doctor_rejects_a_non_scalar_loss(non_scalar_loss_agent):
    results = run_doctor(["mlp"])
    assert any(r.check == "loss" and r.status == "FAIL" and "scalar" in r.detail for r in results)


def test_check_command_exits_non_zero_naming_agent_and_check(tmp_path):
    plugin = tmp_path / "sitecustomize.py"
    plugin.write_text(
        "import agents\n"
        "from agents.mlp import MLPAgent\n"
        "@agents.register('detached_mlp')\n"
        "class D(MLPAgent):\n"
        "    def forward(self, obs, is_init, state):\n"
        "        f, s = super().forward(obs, is_init, state)\n"
        "        return f.detach(), s\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "bench", "check", "detached_mlp", "mlp"], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED: agent detached_mlp" in proc.stderr and "gradients" in proc.stderr
    assert "FAILED: agent mlp " not in proc.stderr


def test_doctor_csv_keeps_the_columns_the_report_reads(tmp_path):
    """New checks are new ``check`` names in the same six columns (bench/paper/analysis.py reads them)."""
    from bench.learn.doctor import PATH_CHECKS, SEQUENCE_CHECKS, format_table, write_results
    from bench.paper.analysis import doctor_summary, read_doctor

    results = run_doctor(["gru2"])
    path = tmp_path / "doctor.csv"
    write_results(path, results)
    rows = read_doctor([str(path)])
    assert list(rows[0]) == ["agent", "head", "baseline", "check", "status", "detail"]
    assert {row["check"] for row in rows} >= {*SEQUENCE_CHECKS, *PATH_CHECKS}
    summary = doctor_summary(rows)
    assert summary["failures"] == [] and summary["agents"][0]["agent"] == "gru2"
    table = format_table(results).splitlines()
    assert table[0].split() == ["check", "gru2"]
    assert any(line.split()[:2] == ["through_time", "PASS"] for line in table)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check runs for real")
def test_cuda_check_runs_when_cuda_is_reported(monkeypatch):
    """Without a GPU the row is n/a; where CUDA is reported the agent is moved there (here it fails, in one line)."""
    import bench.learn.doctor as doctor

    assert {r.status for r in doctor.check_paths("mlp") if r.check == "cuda"} == {"n/a"}
    monkeypatch.setattr(doctor.torch.cuda, "is_available", lambda: True)
    (row,) = [r for r in doctor.check_paths("mlp") if r.check == "cuda"]
    assert row.status == "FAIL" and row.detail.startswith("mlp: fails on CUDA: ") and "\n" not in row.detail
