"""The report's numbers from hand-made run tables: best/tied marking, ablation pairs, thresholds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.paper import analysis
from bench.pipeline.plan import load_plan, plan_table

CONFIG = {
    "profile": "tiny", "bootstrap_replicates": 200, "bootstrap_seed": 0, "solve_fraction": 0.5,
    "profiles": {"tiny": {"seeds": 4, "budget_scale": 0.01, "results": "results/tiny"}},
    "experiments": {
        "baseline": {"agents": ["mlp"], "envs": ["CartPole-v1", "CartPole-P"],
                     "options": {"baseline": ["none", "running_mean", "critic"]}, "reference": {"baseline": "none"}},
    },
}
SCORES = {"mlp [baseline=none]": [20.0, 22.0, 24.0, 26.0],
          "mlp [baseline=running_mean]": [21.0, 23.0, 25.0, 27.0],
          "mlp [baseline=critic]": [400.0, 420.0, 440.0, 460.0]}


@pytest.fixture
def context() -> analysis.Context:
    plan = load_plan(CONFIG)
    membership = pd.DataFrame(plan_table(plan))
    rows, curves = [], []
    labels = {(row["env"], row["variant"], row["seed"]): row["label"] for _, row in membership.iterrows()}
    for run in plan.runs:
        label = labels[(run.env, run.variant, run.seed)]
        score = SCORES[label][run.seed]
        rows.append({"env": run.env, "agent": run.agent, "variant": run.variant, "label": label, "seed": run.seed,
                     "status": "finished", "final_score": score, "normalised_score": (score - 22.3) / (500 - 22.3),
                     "final_success_rate": 0.0, "env_steps": 1000, "steps_per_second": 100.0, "wall_seconds": 10.0,
                     "bench_seconds": 12.0, "max_rss_mb": 400.0, "parameters": 100, "reason": ""})
        # The training return climbs linearly to the final score over 10 updates of 100 steps.
        for update in range(10):
            curves.append({"env": run.env, "agent": run.agent, "variant": run.variant, "seed": run.seed,
                           "update": update, "env_steps": 100 * (update + 1), "wall_time": float(update + 1),
                           "return_mean": score * (update + 1) / 10, "success_rate": 0.0})
    return analysis.Context(plan, pd.DataFrame(rows), pd.DataFrame(curves), membership, np.random.default_rng(0))


def test_results_table_marks_the_best_and_the_statistically_tied(context):
    table = analysis.results_table(context, "baseline")
    cells = {cell["label"]: cell for cell in table["rows"][0]["cells"]}
    assert cells["mlp [baseline=critic]"]["best"] and not cells["mlp [baseline=critic]"]["tied"]
    # none and running_mean overlap each other but not the critic's interval.
    assert not cells["mlp [baseline=none]"]["tied"] and not cells["mlp [baseline=running_mean]"]["tied"]
    assert cells["mlp [baseline=critic]"]["estimate"] == pytest.approx(430.0)  # IQM of 400, 420, 440, 460


def test_ablation_pairs_compare_each_option_with_the_reference(context):
    pairs = set(analysis.ablation_pairs(context, "baseline"))
    # Labels name the varied option even at its default (critic).
    assert pairs == {("mlp [baseline=running_mean]", "mlp [baseline=none]"), ("mlp [baseline=critic]", "mlp [baseline=none]")}
    improvements = {(p["x"], p["y"]): p for p in analysis.improvements(context, "baseline")}
    assert improvements[("mlp [baseline=critic]", "mlp [baseline=none]")]["estimate"] == 1.0
    assert improvements[("mlp [baseline=critic]", "mlp [baseline=none]")]["verdict"] == "better"
    # running_mean beats none in 10 of 16 seed pairs (ties impossible): P = 10/16.
    assert improvements[("mlp [baseline=running_mean]", "mlp [baseline=none]")]["estimate"] == pytest.approx(10 / 16)


def test_time_to_threshold_uses_the_first_crossing(context):
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(context)}
    critic = rows[("CartPole-v1", "mlp [baseline=critic]")]
    # threshold = 22.3 + 0.5 * (500 - 22.3) = 261.15; seed 0 (final 400) crosses at update 7 (smoothed).
    assert critic["threshold"] == pytest.approx(261.15)
    assert critic["solved"] == 4 and critic["median_steps"] > 0
    assert rows[("CartPole-v1", "mlp [baseline=none]")]["solved"] == 0


def test_missing_runs_are_reported(context):
    context.runs.loc[0, "status"] = "failed"
    context.runs.loc[0, "reason"] = "run diverged: update 3: loss is nan"
    missing = analysis.missing_runs(context)
    assert len(missing) == 1 and "diverged" in missing[0]["reason"]


def test_analysis_output_is_plain_json(context):
    result = analysis.analyse(context, doctor=[])
    assert json.loads(json.dumps(result))["experiments"]["baseline"]["labels"]


def test_one_seed_makes_no_claim(context):
    context.runs = context.runs[context.runs["seed"] == 0]
    verdicts = {p["verdict"] for p in analysis.improvements(context, "baseline")}
    assert verdicts == {"too few seeds to tell"}
