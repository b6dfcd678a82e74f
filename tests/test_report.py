"""The report template only presents: every string is escaped, nothing is computed in it."""

from __future__ import annotations

import pytest

from bench.paper.report import render

EVIL = "<script>alert(1)</script>"


def minimal_context(label: str) -> dict:
    cell = {"label": label, "text": "1.0 [0.5, 1.5]", "n": 3, "best": True, "tied": False, "estimate": 1.0, "low": 0.5, "high": 1.5}
    interval = {"estimate": 1.0, "low": 0.5, "high": 1.5, "text": "1.0 [0.5, 1.5]"}
    experiment = {
        "name": "memory", "title": "Memory", "question": "Q?", "envs": ["CartPole-v1"], "labels": [label],
        "table": {"labels": [label], "rows": [{"env": "CartPole-v1", "cells": [cell]}]},
        "aggregate": [{"label": label, "seeds": 3, "iqm": interval, "median": interval, "mean": interval}],
        "improvements": [{"x": label, "y": "mlp", "text": "0.6 [0.4, 0.8]", "verdict": "no clear difference", **interval}],
    }
    analysis = {
        "experiments": {"memory": experiment}, "abstract": [f"{label} is best."],
        "questions": [{"thread": "002", "question": "q", "answer": f"{label} wins"}], "bandits": [],
        "time_to_threshold": [], "compute": [], "gru_vs_gru_cell": None,
        "doctor": [{"agent": label, "head": "-", "baseline": "-", "check": "no_leak", "status": "PASS", "detail": ""}],
        "missing": [{"run": f"CartPole-v1/{label}/seed0", "status": "failed", "reason": "error: x"}],
        "counts": {"planned": 1, "finished": 0},
    }
    return {
        "title": "t", "analysis": analysis, "figures": {},
        "plan": {"profile": "quick", "seeds": 3, "budget_scale": 0.1, "replicates": 100, "bootstrap_seed": 0, "solve_fraction": 0.9, "runs": 1},
        "environments": [], "agents": [{"agent": label, "description": label, "memory": "no", "actor_parameters": 1, "with_critic": 2}],
        "hyperparameters": [], "provenance": {"git_commit": "abc", "run_commits": [], "config_hash": "h", "packages": {},
                                              "python": "3", "command": "c", "date": "d", "hardware": [], "platform": "p"},
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
