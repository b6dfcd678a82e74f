"""Each kind of bug the gradient doctor knows, caught in a deliberately broken agent.

Every broken agent (``tests/broken_agents/``) must fail exactly the check for its
kind, with a message that names the kind and the likely cause; the shipped agents
pass them all (``tests/test_doctor.py``). The ``cuda`` check is left out of the
exact sets: on a GPU machine an agent may also fail there for its own reason.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from gymnasium import spaces

import agents
from agents.base import Agent
from bench.learn.doctor import CheckResult, run_doctor
from bench.learn.heads import MIN_STD, head_for
from tests.broken_agents.detached_hidden import DetachedHiddenAgent
from tests.broken_agents.dropout import DropoutAgent
from tests.broken_agents.frozen import FrozenFirstLayerAgent
from tests.broken_agents.fused_gru import FusedGRUAgent
from tests.broken_agents.look_ahead import LookAheadAgent
from tests.broken_agents.no_reset import NoResetAgent
from tests.broken_agents.unregistered import PlainListAgent


@contextlib.contextmanager
def registered(name: str, cls: type[Agent]):
    """``cls`` available under ``name`` for the block only."""
    agents.register(name)(cls)
    try:
        yield name
    finally:
        agents.unregister(name)


def doctor(name: str, cls: type[Agent]) -> tuple[set[str], list[CheckResult]]:
    """The checks ``cls`` fails (cuda left out) and all its results."""
    with registered(name, cls):
        results = run_doctor([name])
    return {r.check for r in results if r.status == "FAIL" and r.check != "cuda"}, results


def details(results: list[CheckResult], check: str) -> list[str]:
    return [r.detail for r in results if r.check == check and r.status == "FAIL"]


def test_broken_agents_are_never_registered_by_discovery():
    modules = {agents.agent_class(name).__module__ for name in agents.available()}
    assert all(module.startswith("agents.") for module in modules), modules


def test_weights_in_a_plain_list_are_reported_as_unregistered():
    failed, results = doctor("broken_plain_list", PlainListAgent)
    assert failed == {"weights_registered"}
    detail = details(results, "weights_registered")[0]
    assert detail.startswith("unregistered weights: agent.layers[0].bias [16], agent.layers[0].weight [16, 4], "
                             "agent.layers[1].bias [16], agent.layers[1].weight [16, 16] get gradients")
    assert detail.endswith("(kept in a plain list/dict? use nn.ModuleList/nn.ParameterList)")
    assert {r.detail for r in results if r.check == "seed_batched"} == {
        "not checked: unregistered weights (see weights_registered)"}


def test_frozen_weights_used_in_forward_are_named():
    failed, results = doctor("broken_frozen", FrozenFirstLayerAgent)
    assert failed == {"weights_trainable"}
    detail = details(results, "weights_trainable")[0]
    assert detail.startswith("frozen weights: agent.net.0.weight") and "requires_grad=False" in detail


def test_a_hidden_state_detached_between_steps_has_no_gradient_through_time():
    failed, results = doctor("broken_detached_hidden", DetachedHiddenAgent)
    assert failed == {"through_time"}
    (detail,) = details(results, "through_time")
    assert detail.startswith("no gradient through time: the hidden state is detached between steps")


def test_a_state_leaking_across_a_reset_fails_through_time_too():
    """The other half of through_time: zero gradient across an is_init boundary."""
    failed, results = doctor("broken_no_reset", NoResetAgent)
    assert {"through_time", "no_leak", "reset_matters"} <= failed
    (detail,) = details(results, "through_time")
    assert detail.startswith("gradient crosses the episode boundary") and "reset_where" in detail


def test_dropout_in_forward_is_randomness_and_nothing_else():
    failed, results = doctor("broken_dropout", DropoutAgent)
    assert failed == {"deterministic"}
    assert details(results, "deterministic")[0].startswith("randomness in forward")
    # The checks that would only repeat the symptom say why they did not run.
    skipped = {r.check: r.detail for r in results if r.status == "n/a" and r.head == "-"}
    assert {"causal", "sequence_vs_steps", "no_leak", "seed_batched"} <= set(skipped)
    assert skipped["no_leak"] == "not checked: randomness in forward (see deterministic)"


def test_reading_future_observations_is_look_ahead_not_a_leak():
    failed, results = doctor("broken_look_ahead", LookAheadAgent)
    assert failed == {"causal"}
    (detail,) = details(results, "causal")
    assert detail.startswith("look-ahead: output at t depends on observations after t (output at t=0")
    assert "leak" not in " ".join(r.detail for r in results if r.status == "FAIL")


def test_nn_gru_called_directly_fails_the_seed_batched_path_in_one_line():
    failed, results = doctor("broken_fused_gru", FusedGRUAgent)
    assert failed == {"seed_batched"}
    (detail,) = details(results, "seed_batched")
    assert detail.startswith("broken_fused_gru: fails on the seed-batched (vmap) path: ")
    assert detail.endswith("; use agents/recurrence.py's layers for nn.GRU/nn.LSTM")
    assert "\n" not in detail


def test_shipped_agents_pass_the_new_checks_on_every_path():
    results = run_doctor()
    new = {"weights_registered", "weights_trainable", "deterministic", "causal", "through_time", "seed_batched",
           "cuda"}
    seen = {r.check for r in results}
    assert new <= seen
    assert [r for r in results if r.check in new and r.status == "FAIL"] == []
    statuses = {r.agent: r.status for r in results if r.check == "through_time"}
    assert statuses["gru2"] == "PASS" and statuses["mlp"] == "n/a"
    cuda = {r.status for r in results if r.check == "cuda"}
    assert cuda == ({"PASS"} if torch.cuda.is_available() else {"n/a"})


def test_check_command_prints_a_one_line_failure_for_the_batched_path(capsys):
    from bench.cli import main

    with registered("broken_fused_gru", FusedGRUAgent):
        code = main(["check", "broken_fused_gru"])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "seed_batched" in line]
    assert len(lines) == 1 and "fails on the seed-batched (vmap) path" in lines[0]


# The learned log-std floor (bench/learn/heads.py), the state-dependent std's MIN_STD.

def test_learned_log_std_never_gives_a_std_below_the_floor(generator):
    box = spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
    head = head_for(box, 4, "learned", 0.5)
    features = torch.randn(5, 3, 4, generator=generator)
    with torch.no_grad():
        head.log_std.fill_(-30.0)  # as after a long run of entropy-blind updates
    std = head(features).base_dist.scale
    assert torch.all(std >= MIN_STD) and torch.allclose(std, torch.full_like(std, MIN_STD))
    assert torch.isfinite(head(features).log_prob(torch.zeros(5, 3, 2))).all()
    # Negative control: above the floor the learned value is used unchanged.
    with torch.no_grad():
        head.log_std.fill_(math.log(0.2))
    torch.testing.assert_close(head(features).base_dist.scale, torch.full((5, 3, 2), 0.2))
