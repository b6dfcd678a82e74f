"""The report template only presents: every string is escaped, nothing is computed in it;
the reproducibility command reproduces the run as it was run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.paper import report
from bench.paper.report import render
from tests.conftest import ROOT

EVIL = "<script>alert(1)</script>"


def minimal_context(label: str) -> dict:
    cell = {"label": label, "text": "1.0 [0.5, 1.5]", "n": 3, "best": True, "tied": False, "no_learning": False,
            "estimate": 1.0, "low": 0.5, "high": 1.5}
    floor_cell = {**cell, "label": "mlp", "best": False, "no_learning": True, "text": "0.1 [0.0, 0.2]"}
    interval = {"estimate": 1.0, "low": 0.5, "high": 1.5, "text": "1.0 [0.5, 1.5]"}
    experiment = {
        "name": "memory", "title": "Memory", "question": "Q?", "envs": ["CartPole-v1"], "labels": [label],
        "table": {"labels": [label, "mlp"], "comparisons": 1,
                  "rows": [{"env": "CartPole-v1", "floor_text": "9.5", "cells": [cell, floor_cell], "uninformative": False,
                            "verdict": f"best: {label} (IQM difference to the runner-up mlp = 0.9 [0.5, 1.3], Holm-adjusted p = 0.01)"}]},
        "uninformative": ["CueRecall"], "uninformative_note": "Left out: CueRecall.",
        "aggregate": [{"label": label, "seeds": 3, "iqm": interval, "median": interval, "mean": interval}],
        "improvements": [{"x": label, "y": "mlp", "text": "0.6 [0.4, 0.8]", "verdict": "no clear difference",
                          "sentence": "no clear difference, P(X > Y) = 0.6 [0.4, 0.8], Holm-adjusted p = 0.4", **interval}],
    }
    analysis = {
        "caveat": "This is a smoke/quick run (profile quick: 3 seeds per cell).", "alpha": 0.05,
        "introduction": "We report 1 experiment (memory).", "not_run": ["Baseline"],
        "experiments": {"memory": experiment}, "abstract": [f"{label} is best."],
        "questions": [{"name": "hidden_state", "question": "q", "answer": f"{label} wins"}], "bandits": [],
        "time_to_threshold": [], "compute": [], "gru_vs_gru_cell": None,
        "doctor": {"checks": 2, "agents": [{"agent": label, "checks": 2, "failed": 1, "text": "1 of 2 checks failed"}],
                   "failures": [{"agent": label, "head": "-", "baseline": "-", "check": "no_leak", "status": "FAIL",
                                 "detail": "leak"}]},
        "missing": [{"run": f"CartPole-v1/{label}/seed0", "status": "failed", "reason": "error: x"}],
        "counts": {"planned": 1, "finished": 0},
    }
    return {
        "title": "t", "analysis": analysis, "figures": {},
        "plan": {"profile": "quick", "seeds": 3, "budget_scale": 0.1, "replicates": 100, "bootstrap_seed": 0, "solve_fraction": 0.9, "runs": 1},
        "environments": [], "agents": [{"agent": label, "description": label, "memory": "no", "actor_parameters": 1, "with_critic": 2}],
        "hyperparameters": [], "environment_settings": [{"env": label, "steps": 1, "settings": "defaults"}], "provenance": {"git_commit": "abc", "run_commits": [], "config_hash": "h", "packages": {},
                                              "python": "3", "command": "c", "date": "d", "hardware": [], "platform": "p",
                                              "resolved": None, "path": None},
    }


def test_names_from_the_config_are_escaped():
    html = render(minimal_context(EVIL))
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 0


def test_missing_runs_are_listed():
    html = render(minimal_context("mlp"))
    assert "CartPole-v1/mlp/seed0" in html and "failed" in html


def test_template_refuses_undefined_values():
    context = minimal_context("mlp")
    del context["analysis"]["abstract"]
    with pytest.raises(Exception, match="abstract"):
        render(context)


def test_a_small_run_is_flagged_at_the_top_and_only_ran_experiments_are_listed():
    html = render(minimal_context("mlp"))
    caveat = html.index("smoke/quick run")
    assert caveat < html.index('id="abstract"')
    contents = html[html.index('id="contents"'):html.index("</nav>")]
    assert "Memory" in contents and "Baseline" not in contents
    assert "Not run in this profile: Baseline." in html
    context = minimal_context("mlp")
    context["analysis"]["caveat"] = ""
    assert 'class="caveat"' not in render(context)


def test_result_flags_and_verdicts_are_shown_as_words_with_numbers():
    html = render(minimal_context("gru"))
    assert "no learning" in html and "Left out: CueRecall." in html
    assert "best: gru (IQM difference to the runner-up mlp = 0.9 [0.5, 1.3], Holm-adjusted p = 0.01)" in html
    assert "no clear difference, P(X &gt; Y) = 0.6 [0.4, 0.8], Holm-adjusted p = 0.4" in html
    assert "Holm-Bonferroni" in html


def test_doctor_shows_failures_and_one_line_per_agent():
    html = render(minimal_context("gru"))
    doctor = html[html.index('id="doctor"'):html.index('id="reproducibility"')]
    assert "1 of 2 checks failed" in doctor and "leak" in doctor and "PASS" not in doctor


def _base_config() -> dict:
    return json.loads(json.dumps(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())))


def test_command_is_the_profile_when_the_config_is_the_repositorys():
    config = {**_base_config(), "profile": "quick"}
    command = report.reproduce_command(config, ROOT / "results" / "quick" / "report" / "index.html")
    assert command == {"command": "snakemake --cores N --config profile=quick", "resolved": None, "path": None}


def test_a_changed_config_is_written_out_and_passed_with_configfile(tmp_path):
    config = {**_base_config(), "profile": "quick", "bootstrap_replicates": 50}
    command = report.reproduce_command(config, tmp_path / "report" / "index.html")
    path = tmp_path / "report" / "config.resolved.yaml"
    assert command["command"] == f"snakemake --cores N --configfile {path}"
    assert command["path"] == str(path)
    # The YAML shown and written is the effective config: reading it back gives it exactly.
    assert yaml.safe_load(command["resolved"]) == config
    inside = report.reproduce_command(config, ROOT / "results" / "x" / "report" / "index.html")
    assert inside["command"] == "snakemake --cores N --configfile results/x/report/config.resolved.yaml"


def test_the_title_names_only_the_experiments_that_ran():
    analysis = minimal_context("mlp")["analysis"]
    assert report.title(analysis) == "Which policy-gradient design choices matter? REINFORCE experiments: Memory"
