"""Bad pipeline input stops Snakemake before any job, in one line, leaving results/ untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import copy_repository


def edit_config(copy: Path, change) -> None:
    path = copy / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def broken_agent_file(copy: Path) -> None:
    (copy / "agents" / "broken.py").write_text("import torch\nraise RuntimeError('half-written agent')\n")


CASES = {
    "misspelled key": (lambda c: edit_config(c, lambda cfg: cfg.update(bootstrap_replicate=100)),
                       "unknown key 'bootstrap_replicate' in top level; valid keys: bootstrap_replicates"),
    "unknown agent": (lambda c: edit_config(c, lambda cfg: cfg["experiments"]["memory"]["agents"].append("gpt")),
                      "unknown agent 'gpt'; valid choices: gru, gru2, gru_cell"),
    "unknown environment": (lambda c: edit_config(c, lambda cfg: cfg["experiments"]["bandits"]["envs"].append("NoSuchEnv-v0")),
                            "unknown environment 'NoSuchEnv-v0'; valid choices: CartPole-v1"),
    "agent file fails to import": (broken_agent_file, "agent file agents/broken.py failed to import: RuntimeError: half-written agent"),
    "path separator in a name": (lambda c: edit_config(c, lambda cfg: cfg["experiments"]["memory"]["agents"].append("a/b")),
                                 "agent name 'a/b' in experiments.memory must match"),
    "non-integer seeds": (lambda c: edit_config(c, lambda cfg: cfg["profiles"]["full"].update(seeds="ten")),
                          "profiles.full.seeds: 'ten' is not of type 'integer'"),
    "negative budget": (lambda c: edit_config(c, lambda cfg: cfg["profiles"]["full"].update(budget_scale=-1)),
                        "profiles.full.budget_scale: -1 is less than or equal to the minimum of 0"),
    "gamma out of range": (lambda c: edit_config(c, lambda cfg: cfg.update(defaults={"gamma": 2.0})),
                           "gamma must be in [0, 1], got 2.0"),
    "empty agent list": (lambda c: edit_config(c, lambda cfg: cfg["experiments"]["bandits"].update(agents=[])),
                         "experiments.bandits.agents: [] should be non-empty"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_snakemake_before_any_job(case, tmp_path):
    copy = copy_repository(tmp_path / "repo")
    make_bad, message = CASES[case]
    make_bad(copy)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=copy, capture_output=True, text=True,
                          timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], output[-2000:]
    assert not (copy / "results").exists()


DRY_RUN_CASES = {
    "budget_scale .nan": (lambda cfg: cfg["profiles"]["full"].update(budget_scale=float("nan")),
                          "error: config: profiles.full.budget_scale: nan is not a finite number"),
    "seeds 3.0": (lambda cfg: cfg["profiles"]["full"].update(seeds=3.0),
                  "error: config: profiles.full.seeds: 3.0 is not of type 'integer'"),
    "results out of results/": (lambda cfg: cfg["profiles"]["full"].update(results="results/../elsewhere"),
                                "error: config: profiles.full.results: 'results/../elsewhere' must be a folder inside results/"),
    "pair naming a missing agent": (lambda cfg: cfg["experiments"]["memory"]["pairs"].append(["gru", "rnn"]),
                                    "names 'rnn', not a variant of this experiment; valid choices: mlp, gru_cell"),
    "reference value not in the list": (lambda cfg: cfg["experiments"]["gaussian"].update(reference={"std_mode": "tiny"}),
                                        "reference std_mode=tiny in experiments.gaussian is not one of its values; "
                                        "valid choices: learned, state, fixed"),
    "agent name with a trailing newline": (lambda cfg: cfg["experiments"]["bandits"]["agents"].append("mlp\n"),
                                           "agent name 'mlp\\n' in experiments.bandits must match"),
}


@pytest.mark.parametrize("case", list(DRY_RUN_CASES))
def test_bad_config_fails_a_dry_run_in_one_line(case, tmp_path):
    """`snakemake -n` is where a user tries a configuration first: it must refuse it too."""
    copy = copy_repository(tmp_path / "repo")
    change, message = DRY_RUN_CASES[case]
    edit_config(copy, change)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n"], cwd=copy, capture_output=True, text=True,
                          timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], output[-2000:]
    assert not (copy / "results").exists() and not (copy / "elsewhere").exists()


def test_unknown_profile_on_the_command_line(tmp_path):
    copy = copy_repository(tmp_path / "repo")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config", "profile=paper"], cwd=copy,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "error: config: unknown profile 'paper'; valid choices: full, quick, batched, gpu, tune, smoke" in proc.stdout + proc.stderr
    assert not (copy / "results").exists()
