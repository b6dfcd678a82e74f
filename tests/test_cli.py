"""The command line: run writes the run contract; bad input is one line, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT


def bench(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_run_writes_metrics_and_run_info(tmp_path):
    out = tmp_path / "run"
    proc = bench("run", "--env", "CartPole-v1", "--agent", "gru", "--seed", "3", "--steps", "2000", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    metrics = pd.read_parquet(out / "metrics.parquet")
    assert set(metrics["phase"]) == {"train", "eval"}
    info = json.loads((out / "run.json").read_text())
    assert info["config"]["agent"] == "gru" and info["config"]["steps"] == 2000 and info["seed"] == 3
    for key in ("versions", "git_commit", "device", "cpu_model", "wall_seconds", "steps_per_second", "final_score"):
        assert key in info
    assert sorted(p.name for p in out.iterdir()) == ["metrics.parquet", "run.json"]  # no temp files left
    assert info["torch_threads"] == 1  # parallel CPU jobs never oversubscribe the cores


def test_list_names_every_agent_and_environment():
    proc = bench("list")
    assert proc.returncode == 0
    for name in ("mlp", "gru_cell", "gru", "window", "gru_reset", "CartPole-P", "DigitMatch-100", "CueRecall"):
        assert name in proc.stdout


@pytest.mark.parametrize("args, expected", [
    (["--env", "CartPole-v9"], "unknown environment 'CartPole-v9'; valid choices: CartPole-v1"),
    (["--agent", "transformer"], "unknown agent 'transformer'; valid choices: gru"),
    (["--baseline", "median"], "unknown baseline 'median'; valid choices: none, running_mean, critic"),
    (["--steps", "-5"], "steps must be >= 0"),
    (["--gamma", "1.5"], "gamma must be in [0, 1], got 1.5"),
    (["--gamma", "-0.1"], "gamma must be in [0, 1]"),
    (["--entropy-coef", "-0.01"], "entropy_coef must be >= 0, got -0.01"),
    (["--num-envs", "0"], "num_envs must be >= 1"),
    (["--std-mode", "wide"], "unknown std_mode 'wide'; valid choices: learned, state, fixed"),
    (["--critic-memory", "shared"], "unknown critic_memory 'shared'; valid choices: actor, own"),
    (["--bogus", "1"], "unknown option '--bogus' for 'run'; valid options: --agent, --backend"),
    (["--seed", "1.5"], "invalid int value: '1.5'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, expected):
    out = tmp_path / "never"
    proc = bench("run", "--out", str(out), *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert not out.exists()


def test_a_failed_run_keeps_the_finished_result(tmp_path):
    out = tmp_path / "run"
    assert bench("run", "--env", "DigitMatch-10", "--steps", "300", "--out", str(out)).returncode == 0
    before = (out / "run.json").read_bytes(), (out / "metrics.parquet").read_bytes()
    proc = bench("run", "--env", "GaussianTarget", "--steps", "20000", "--lr", "1e30", "--value-lr", "1e30",
                 "--max-grad-norm", "0", "--force", "--out", str(out))  # --force: past the finished-run check, to the divergence
    assert proc.returncode == 1 and "diverged" in proc.stderr and "update" in proc.stderr
    assert ((out / "run.json").read_bytes(), (out / "metrics.parquet").read_bytes()) == before
