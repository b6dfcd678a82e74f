"""The report's numbers from hand-made run tables: best/tied marking, ablation pairs, thresholds."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from bench import envs
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


def make_context(config: dict = CONFIG, scores: dict[str, list[float]] = SCORES, initial: float | dict | None = 10.0,
                 environments: tuple[str, ...] | None = None) -> analysis.Context:
    """Finished runs with the given final scores per label (by seed) in every environment; ``initial``
    is every run's untrained score (None: not recorded, as in runs written before it existed)."""
    plan = load_plan(config, check_registries=False)
    membership = pd.DataFrame(plan_table(plan))
    rows, curves = [], []
    labels = {(row["env"], row["agent"], row["variant"], row["seed"]): (row["label"], row["options"])
              for _, row in membership.iterrows()}
    for run in plan.runs:
        if environments is not None and run.env not in environments:
            continue
        label, options = labels[(run.env, run.agent, run.variant, run.seed)]
        score = scores[label][run.seed]
        rows.append({"env": run.env, "agent": run.agent, "variant": run.variant, "label": label, "seed": run.seed,
                     "options": options, "status": "finished", "final_score": score,
                     "normalised_score": (score - 22.3) / (500 - 22.3),
                     "initial_score": _initial(initial, run.env),
                     "final_success_rate": 0.0, "env_steps": 1000, "steps_per_second": 100.0, "wall_seconds": 10.0,
                     "bench_seconds": 12.0, "max_rss_mb": 400.0, "parameters": 100, "reason": "", "failure": ""})
        # The training return climbs linearly to the final score over 10 updates of 100 steps.
        for update in range(10):
            curves.append({"env": run.env, "agent": run.agent, "variant": run.variant, "seed": run.seed,
                           "update": update, "env_steps": 100 * (update + 1), "wall_time": float(update + 1),
                           "return_mean": score * (update + 1) / 10, "success_rate": 0.0})
    return analysis.Context(plan, pd.DataFrame(rows), pd.DataFrame(curves), membership, 0)


def _initial(initial: float | dict | None, env: str) -> float:
    value = initial.get(env) if isinstance(initial, dict) else initial
    return float("nan") if value is None else float(value)


def with_six_seeds(scores: dict[str, list[float]]) -> tuple[dict, dict[str, list[float]]]:
    """The config and ``scores`` with two more seeds per label, each one more step of its last. A table's
    "best" needs them: its permutation test of an IQM difference on one task, 4 seeds against 4, cannot go
    below 4/70 (the IQM ignores the runs it trims), nor at 5 seeds 4/252 times a family of four."""
    more = {label: values + [values[-1] + k * (values[-1] - values[-2]) for k in (1, 2)] for label, values in scores.items()}
    return {**CONFIG, "profiles": {"tiny": {**CONFIG["profiles"]["tiny"], "seeds": 6}}}, more


@pytest.fixture(autouse=True)
def four_seeds_may_be_tested(monkeypatch, request):
    """The hand-made tables have 4 seeds, to keep their arithmetic checkable by hand; the rules
    are tested at that size. ``test_fewer_seeds_than_a_test_needs_give_no_verdict`` keeps the
    real threshold."""
    if "real_threshold" not in request.keywords:
        monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)


@pytest.fixture
def context() -> analysis.Context:
    return make_context()


def test_results_table_names_the_best_only_when_it_beats_the_runner_up():
    config, scores = with_six_seeds(SCORES)
    table = analysis.results_table(make_context(config, scores), "baseline")
    row = table["rows"][0]
    cells = {cell["label"]: cell for cell in row["cells"]}
    assert cells["mlp [baseline=critic]"]["best"] and not cells["mlp [baseline=critic]"]["tied"]
    assert not cells["mlp [baseline=none]"]["tied"] and not cells["mlp [baseline=running_mean]"]["tied"]
    assert cells["mlp [baseline=critic]"]["estimate"] == pytest.approx(450.0)  # IQM of 400, ..., 500: 420-480
    assert row["best"] == "mlp [baseline=critic]" and row["group"] == ["mlp [baseline=critic]"]
    # The verdict is words with numbers: the difference to the runner-up (running_mean, IQM 26) and its Holm p.
    assert row["verdict"].startswith("best: mlp [baseline=critic] (IQM difference to the runner-up mlp [baseline=running_mean] = 424")
    # Exact permutation p: 2 x 2 of the 924 splits reach |424| (the trimmed runs swap freely), times 4 comparisons.
    assert row["verdict"].endswith(f"Holm-adjusted p = {analysis.fmt(4 * 4 / 924, 2)})")
    # Family: top vs each of the 2 others, in each of the 2 environments.
    assert table["comparisons"] == 4
    # With four seeds the same data cannot name a best: no split of 4 against 4 gives p below 4/70.
    four = analysis.results_table(make_context(), "baseline")["rows"][0]
    assert four["best"] is None and four["verdict"].startswith("not testable (no power at α = 0.05 with n = 4: no "
                                                               "adjusted p of this row can fall below 0.23)")


def _fewer_seeds_on_cartpole_p(seeds: int) -> analysis.Context:
    """Six seeds per cell on CartPole-v1, ``seeds`` on CartPole-P (the others lost)."""
    config, scores = with_six_seeds(SCORES)
    context = make_context(config, scores)
    context.runs = context.runs[~((context.runs["env"] == "CartPole-P") & (context.runs["seed"] >= seeds))]
    return context


def test_a_row_whose_comparisons_cannot_reject_at_its_seeds_is_not_testable_while_the_others_decide():
    # Holm of each test at its floor: CartPole-v1's two (6 v 6, 4/924) reach 0.017; CartPole-P's two (4 v 4, 4/70)
    # can reach no lower than 2 x 4/70 = 0.11, so that row is not testable and the other row still names its best.
    table = analysis.results_table(_fewer_seeds_on_cartpole_p(4), "baseline")
    full, fewer = table["rows"]
    assert full["best"] == "mlp [baseline=critic]" and table["testable"] and table["resolution_note"] == ""
    assert fewer["verdict"].startswith("not testable (no power at α = 0.05 with n = 4: no adjusted p of this row can "
                                       "fall below 0.11)"), fewer["verdict"]
    assert not any(cell["tied"] or cell["best"] for cell in fewer["cells"])


@pytest.mark.real_threshold
def test_a_row_with_too_few_seeds_spends_no_share_of_the_tables_alpha():
    table = analysis.results_table(_fewer_seeds_on_cartpole_p(4), "baseline")
    full, fewer = table["rows"]
    assert fewer["verdict"].startswith("too few seeds to tell (n = 4")
    assert table["comparisons"] == 2 and full["best"] == "mlp [baseline=critic]"
    # Holm over CartPole-v1's two comparisons alone: the exact p of 2 x 2 of 924 splits, times 2.
    assert full["verdict"].endswith(f"Holm-adjusted p = {analysis.fmt(2 * 4 / 924, 2)})")


def test_a_cell_whose_seeds_all_score_alike_is_flagged_as_a_zero_width_interval():
    scores = {**SCORES, "mlp [baseline=critic]": [500.0] * 4}
    cells = {c["label"]: c for c in analysis.results_table(make_context(scores=scores), "baseline")["rows"][0]["cells"]}
    assert cells["mlp [baseline=critic]"]["text"] == "500 [500, 500]"
    assert cells["mlp [baseline=critic]"]["flag"] == analysis.ZERO_WIDTH == "zero-width interval"
    assert cells["mlp [baseline=running_mean]"]["flag"] == ""  # 21-27: an interval with a width


def test_a_cell_whose_seeds_learned_and_then_lost_it_says_so():
    def collapsing(seeds: list[int], initial: float = 10.0) -> analysis.Context:
        """critic's ``seeds`` (variant "default") climb from 10 to 450 over 10 updates, hold, and fall back to 10; the
        others climb steadily (no flag). 40 updates: the detector needs a tenth of them per window. Shuffled: the
        curves table's row order is not the update order the detector must read."""
        context = make_context(initial=initial)
        ramp = list(np.linspace(10.0, 450.0, 10))
        collapse = ramp + [450.0] * 15 + ramp[::-1] + [10.0] * 5
        lost = (context.curves["variant"] == "default") & context.curves["seed"].isin(seeds)
        replaced = [{"env": env, "agent": "mlp", "variant": "default", "seed": seed, "update": update,
                     "env_steps": 100 * (update + 1), "wall_time": float(update + 1), "return_mean": value,
                     "success_rate": 0.0}
                    for env in context.curves["env"].unique() for seed in seeds for update, value in enumerate(collapse)]
        context.curves = pd.concat([context.curves[~lost], pd.DataFrame(replaced)]).sample(frac=1.0, random_state=0)
        return context

    context = collapsing([0, 1])
    cells = {c["label"]: c for c in analysis.results_table(context, "baseline")["rows"][0]["cells"]}
    assert cells["mlp [baseline=critic]"]["flag"] == "training return collapsed in 2 of 4 seeds"
    assert cells["mlp [baseline=running_mean]"]["flag"] == ""
    # Two of four is not most of them: the abstract names a cell only when more than half its seeds collapsed.
    assert not any("collapsed" in s for s in analysis.analyse(context, doctor=[])["abstract"])
    abstract = analysis.analyse(collapsing([0, 1, 2]), doctor=[])["abstract"]
    assert ("baseline: mlp [baseline=critic] on CartPole-v1: the training return rose and collapsed in 3 of 4 seeds "
            "(final score 430 [400, 460]).") in abstract
    # Under a floor the cell's floor flag is said once (not the collapse again).
    abstract = analysis.analyse(collapsing([0, 1, 2], initial=470.0), doctor=[])["abstract"]
    assert ("baseline: mlp [baseline=critic] on CartPole-v1: the training return rose and collapsed in 3 of 4 seeds "
            "(final score 430 [400, 460]; below the untrained policy).") in abstract


def test_overlapping_top_variants_are_called_tied_not_best():
    # Interleaved with running_mean; six seeds, so that the table could separate them if they differed.
    config, scores = with_six_seeds({**SCORES, "mlp [baseline=critic]": [21.5, 23.5, 25.5, 27.5]})
    table = analysis.results_table(make_context(config, scores), "baseline")
    row = table["rows"][0]
    assert table["testable"]
    assert row["best"] is None
    assert row["verdict"].startswith("cannot be separated: mlp [baseline=critic], mlp [baseline=running_mean]")
    tied = {cell["label"] for cell in row["cells"] if cell["tied"]}
    assert {"mlp [baseline=critic]", "mlp [baseline=running_mean]"} <= tied
    assert not any(cell["best"] for cell in row["cells"])


def test_a_cell_whose_interval_does_not_clear_the_floor_is_no_learning():
    context = make_context(initial=30.0)  # none (20-26) and running_mean (21-27) stay below the untrained score
    result = analysis.analyse(context, doctor=[])
    assert result["floors"]["CartPole-v1"] == {"value": 30.0, "text": "30.0"}
    cells = {c["label"]: c for c in result["experiments"]["baseline"]["table"]["rows"][0]["cells"]}
    assert cells["mlp [baseline=none]"]["no_learning"] and cells["mlp [baseline=running_mean]"]["no_learning"]
    assert not cells["mlp [baseline=critic]"]["no_learning"]
    assert result["experiments"]["baseline"]["uninformative"] == []
    # Its flag in words: the whole interval under the floor is worse than no learning.
    assert cells["mlp [baseline=none]"]["flag"] == "below the untrained policy" and cells["mlp [baseline=critic]"]["flag"] == ""
    straddling = analysis.analyse(make_context(initial=25.0), doctor=[])  # none's IQM interval reaches above 25
    cell = straddling["experiments"]["baseline"]["table"]["rows"][0]["cells"][0]
    assert cell["label"] == "mlp [baseline=none]" and cell["low"] <= 25.0 < cell["high"] and cell["flag"] == "no learning"


def test_a_cell_is_below_the_untrained_policy_only_when_its_runs_got_worse_than_they_started():
    # The floor is a median over every run, and untrained scores vary from run to run (CueRecall: 0.15-0.28
    # around a chance of 0.25). none's cell (20-26) is under the floor of 30, but its own runs started at 18, 24,
    # 20 and 30: two got better and two worse, so it reads "no learning", not "below the untrained policy".
    context = make_context(initial=30.0)
    none = (context.runs["env"] == "CartPole-v1") & (context.runs["label"] == "mlp [baseline=none]")
    context.runs.loc[none, "initial_score"] = context.runs.loc[none, "seed"].map({0: 18.0, 1: 24.0, 2: 20.0, 3: 30.0})
    cells = {c["label"]: c for c in analysis.results_table(context, "baseline")["rows"][0]["cells"]}
    assert cells["mlp [baseline=none]"]["high"] < 30.0 and cells["mlp [baseline=none]"]["flag"] == "no learning"
    # running_mean's runs (21-27) all started at 30: each got worse, and its cell says so.
    assert cells["mlp [baseline=running_mean]"]["flag"] == "below the untrained policy"
    # Without each run's untrained score, the cell's interval is compared with the floor.
    context.runs["initial_score"] = float("nan")
    cells = {c["label"]: c for c in analysis.results_table(context, "baseline", {"CartPole-v1": 30.0})["rows"][0]["cells"]}
    assert cells["mlp [baseline=none]"]["flag"] == "below the untrained policy"


def test_an_absent_floor_is_said_and_marks_nothing():
    result = analysis.analyse(make_context(initial=None), doctor=[])
    assert result["floors"]["CartPole-v1"]["text"] == "floor not measured"
    cells = result["experiments"]["baseline"]["table"]["rows"][0]["cells"]
    assert not any(cell["no_learning"] for cell in cells)


def test_an_environment_where_nothing_clears_the_floor_leaves_the_aggregate():
    context = make_context(initial={"CartPole-v1": 10.0, "CartPole-P": 1000.0})
    experiment = analysis.analyse(context, doctor=[])["experiments"]["baseline"]
    assert experiment["uninformative"] == ["CartPole-P"]
    assert "uninformative at this budget" in experiment["uninformative_note"] and "CartPole-P" in experiment["uninformative_note"]
    # The aggregate now covers CartPole-v1 alone: the critic's normalised IQM is that of its CartPole-v1 scores.
    critic = next(e for e in experiment["aggregate"] if e["label"] == "mlp [baseline=critic]")
    assert critic["iqm"]["estimate"] == pytest.approx((430.0 - 22.3) / (500 - 22.3))
    # Both environments uninformative: no aggregate and no ablation claims at all.
    nothing = analysis.analyse(make_context(initial=1000.0), doctor=[])["experiments"]["baseline"]
    assert nothing["aggregate"] == [] and nothing["improvements"] == []


def test_ablation_pairs_compare_each_option_with_the_reference(context):
    pairs = set(analysis.ablation_pairs(context, "baseline"))
    # Labels name the varied option even at its default (critic).
    assert pairs == {("mlp [baseline=running_mean]", "mlp [baseline=none]"), ("mlp [baseline=critic]", "mlp [baseline=none]")}
    improvements = {(p["x"], p["y"]): p for p in analysis.improvements(context, "baseline")}
    assert improvements[("mlp [baseline=critic]", "mlp [baseline=none]")]["estimate"] == 1.0
    assert improvements[("mlp [baseline=critic]", "mlp [baseline=none]")]["verdict"] == "better"
    # running_mean beats none in 10 of 16 seed pairs (ties impossible): P = 10/16.
    assert improvements[("mlp [baseline=running_mean]", "mlp [baseline=none]")]["estimate"] == pytest.approx(10 / 16)
    # Two pairs, one Holm family: adjusted p >= raw p, and the small difference is not claimed.
    close = improvements[("mlp [baseline=running_mean]", "mlp [baseline=none]")]
    assert close["adjusted_p"] >= close["p_value"] and close["verdict"] == "no clear difference"
    assert close["sentence"].startswith("no clear difference, P(X > Y) = 0.625 [") and "Holm-adjusted p = " in close["sentence"]
    clear = improvements[("mlp [baseline=critic]", "mlp [baseline=none]")]
    assert clear["adjusted_p"] < 0.05 and clear["sentence"].startswith("better, P(X > Y) = 1.00 [1.00, 1.00]")


def test_time_to_threshold_uses_the_first_crossing(context):
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(context)}
    critic = rows[("CartPole-v1", "mlp [baseline=critic]")]
    # threshold = 22.3 + 0.5 * (500 - 22.3) = 261.15; seed 0 (final 400) crosses at update 7 (smoothed).
    assert critic["threshold"] == pytest.approx(261.15)
    assert critic["solved"] == 4 and critic["median_steps"] > 0
    assert rows[("CartPole-v1", "mlp [baseline=none]")]["solved"] == 0
    assert rows[("CartPole-v1", "mlp [baseline=none]")]["median_steps_text"] == "not reached by more than half of the seeds (0/4)"


def test_time_to_threshold_censors_unsolved_seeds():
    # Smoothed return at update u (u >= 2) is S * u / 10: S = 900, 600, 440 cross 261.15 at
    # updates 3, 5, 6 (steps 400, 600, 700); S = 100 never does.
    scores = {**SCORES, "mlp [baseline=critic]": [900.0, 600.0, 440.0, 100.0],
              "mlp [baseline=running_mean]": [900.0, 600.0, 100.0, 100.0]}
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(make_context(scores=scores))}
    three = rows[("CartPole-v1", "mlp [baseline=critic]")]
    # The unsolved seed counts as +inf: median of (400, 600, 700, inf) = 650, not the solved seeds' 600.
    assert three["solved_text"] == "3/4" and three["fraction_solved"] == 0.75 and three["median_steps"] == 650.0
    half = rows[("CartPole-v1", "mlp [baseline=running_mean]")]
    assert half["solved"] == 2 and np.isnan(half["median_steps"])
    assert half["median_steps_text"] == "not reached by more than half of the seeds (2/4)"
    assert half["median_seconds_text"] == "–"


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


@pytest.mark.real_threshold
def test_fewer_seeds_than_a_test_needs_give_no_verdict(context):
    # 4 seeds: a bootstrap test is not calibrated there (analysis.MIN_TEST_SEEDS), whatever the gap.
    assert analysis.MIN_TEST_SEEDS == 5
    table = analysis.results_table(context, "baseline")
    assert {row["verdict"] for row in table["rows"]} == {"too few seeds to tell (n = 4; a test needs 5)"}
    assert not any(cell["best"] for row in table["rows"] for cell in row["cells"])
    verdicts = {p["verdict"] for p in analysis.improvements(context, "baseline")}
    assert verdicts == {"too few seeds to tell"}


def test_a_small_run_says_it_is_not_evidence(context):
    text = analysis.caveat(context.plan, context.runs)
    assert "smoke/quick run" in text and "4 seeds per cell, all finished" in text
    full = make_context(config=_profile(seeds=5, budget_scale=1.0), scores=_scores(5))
    assert analysis.caveat(full.plan, full.runs) == ""
    quick = make_context(config=_profile(seeds=10, budget_scale=0.5), scores=_scores(10))
    assert "budget scale 0.5" in analysis.caveat(quick.plan, quick.runs)
    # Full budgets but 3 seeds (the sample): not a smoke run, still no tests.
    sample = make_context(config=_profile(seeds=3, budget_scale=1.0), scores=_scores(3))
    text = analysis.caveat(sample.plan, sample.runs)
    assert text.startswith("Too few seeds to test") and "at full budgets" in text and "smoke" not in text


def _profile(seeds: int, budget_scale: float) -> dict:
    return {**CONFIG, "profiles": {"tiny": {"seeds": seeds, "budget_scale": budget_scale, "results": "results/tiny"}}}


def _scores(seeds: int) -> dict[str, list[float]]:
    """SCORES' pattern (two close low variants, a high critic) for ``seeds`` seeds."""
    return {label: [values[0] + 2.0 * seed for seed in range(seeds)] for label, values in SCORES.items()}


def _fail(context: analysis.Context, env: str, label: str, seeds: list[int]) -> analysis.Context:
    """The context with these runs failed (diverged): no scores, no curve, as bench.pipeline.aggregate writes them."""
    runs = context.runs.copy()
    chosen = (runs["env"] == env) & (runs["label"] == label) & runs["seed"].isin(seeds)
    runs.loc[chosen, "status"] = "failed"
    runs.loc[chosen, "reason"] = "run diverged: loss is nan"
    runs.loc[chosen, "failure"] = "diverged"
    runs.loc[chosen, ["final_score", "normalised_score"]] = np.nan
    keys = runs.loc[chosen, ["env", "agent", "variant", "seed"]]
    curves = context.curves.merge(keys, how="left", indicator=True)
    curves = curves[curves.pop("_merge") == "left_only"].reset_index(drop=True)
    return dataclasses.replace(context, runs=runs, curves=curves)


def test_the_banner_counts_finished_seeds_not_planned_ones():
    # A 10-seed full-budget profile: evidence while its runs finish, not when 7 of a cell's 10 fail.
    context = make_context(config=_profile(seeds=10, budget_scale=1.0), scores=_scores(10))
    assert analysis.caveat(context.plan, context.runs) == ""
    failed = _fail(context, "CartPole-P", "mlp [baseline=critic]", list(range(3, 10)))
    text = analysis.caveat(failed.plan, failed.runs)
    # The cell is named as its experiment's table names it (with the option it varies), not "mlp".
    assert "only 3 of 10 planned seeds (fewer than 5) finished in CartPole-P / mlp [baseline=critic] (baseline)" in text
    assert "smoke/quick" not in text  # the profile is a full one; its runs failed
    assert analysis.fewest_finished(failed.plan, failed.runs) == (3, "CartPole-P / mlp [baseline=critic] (baseline)")
    result = analysis.analyse(failed, doctor=[])
    assert result["caveat"] == text and "(3 finished in the sparsest cell)" in result["introduction"]


def test_a_failed_run_is_an_unsolved_seed_of_its_cell():
    # critic: S = 900, 600, 440 cross 261.15 at steps 400, 600, 700; seed 3 (S = 440) diverges.
    scores = {**SCORES, "mlp [baseline=critic]": [900.0, 600.0, 440.0, 440.0]}
    context = _fail(make_context(scores=scores), "CartPole-v1", "mlp [baseline=critic]", [3])
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(context)}
    critic = rows[("CartPole-v1", "mlp [baseline=critic]")]
    # Censored, not dropped: 3 of 4 solved and the median of (400, 600, 700, inf) is 650, not 600 of 3/3.
    assert critic["seeds"] == 4 and critic["solved"] == 3 and critic["failed"] == 1
    assert critic["median_steps"] == 650.0 and critic["solved_text"] == "3/4 (1 failed, counted unsolved)"
    # Missing runs (never trained) are no seed of the summary.
    missing = dataclasses.replace(context, runs=context.runs.assign(
        status=context.runs["status"].replace({"failed": "missing"})))
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(missing)}
    assert rows[("CartPole-v1", "mlp [baseline=critic]")]["solved_text"] == "3/3"
    # A crash (an exception, not a divergence) says nothing about learning: left out too.
    crashed = dataclasses.replace(context, runs=context.runs.assign(
        failure=context.runs["failure"].replace({"diverged": "crashed"})))
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(crashed)}
    assert rows[("CartPole-v1", "mlp [baseline=critic]")]["solved_text"] == "3/3"
    # A runs table from before the failure column: the kind is read from the reason.
    older = dataclasses.replace(context, runs=context.runs.drop(columns="failure"))
    rows = {(r["env"], r["label"]): r for r in analysis.time_to_threshold(older)}
    assert rows[("CartPole-v1", "mlp [baseline=critic]")]["solved_text"] == "3/4 (1 failed, counted unsolved)"


def test_a_failed_bandit_run_never_reaches_90_percent():
    config = {**CONFIG, "experiments": {"bandits": {"agents": ["mlp"], "envs": ["DigitMatch-10"]}}}
    context = make_context(config=config, scores={"mlp": [1.0, 2.0, 3.0, 4.0]})
    context.curves["success_rate"] = 1.0  # every finished seed reaches 90 % at its first update (100 samples)
    failed = _fail(context, "DigitMatch-10", "mlp", [3])
    entry = analysis.bandit_results(failed)[0]
    assert entry["seeds"] == 3 and entry["solve_seeds"] == 4 and entry["reached_90"] == 3
    assert entry["reached_90_text"] == "3/4 (1 failed, counted unsolved)" and entry["samples_to_90"] == 100.0


def test_the_one_step_table_keeps_runs_trained_with_per_environment_settings():
    # DigitMatch-10 trains with num_envs=64 (env_settings): its runs' variant is "num_envs=64", not "default".
    config = {**CONFIG, "env_settings": {"DigitMatch-10": {"num_envs": 64}},
              "experiments": {"bandits": {"agents": ["mlp"], "envs": ["DigitMatch-10", "GaussianTarget"]},
                              "entropy": {"agents": ["mlp"], "envs": ["DigitMatch-10"],
                                          "options": {"entropy_coef": [0.0, 0.05]}}}}
    seeds = [-1.0, -2.0, -3.0, -4.0]
    context = make_context(config=config, scores={"mlp": seeds, "mlp [entropy_coef=0.0]": seeds,
                                                  "mlp [entropy_coef=0.05]": seeds}, initial=-100.0)
    assert set(context.runs[context.runs["env"] == "DigitMatch-10"]["variant"]) == {
        "num_envs=64", "entropy_coef=0.0+num_envs=64", "entropy_coef=0.05+num_envs=64"}
    # Only the plain mlp runs are accurate: an entropy variant counted in would pull the IQM below 1.
    context.runs["final_success_rate"] = (context.runs["variant"] == "num_envs=64").astype(float)
    entries = {entry["env"]: entry for entry in analysis.bandit_results(context)}
    assert list(entries) == ["DigitMatch-10", "GaussianTarget"]
    assert entries["DigitMatch-10"]["seeds"] == 4 and entries["DigitMatch-10"]["accuracy"]["estimate"] == 1.0
    # GaussianTarget's success is an action near the target, not an exact match: its rule goes with its figure.
    assert entries["GaussianTarget"]["accuracy_text"].endswith("] (|a − 3| ≤ 0.1)")
    assert entries["DigitMatch-10"]["accuracy_text"].endswith("]")
    # The abstract says the accuracy beside the one-step experiment's normalised scores (mlp's, the runs it covers).
    abstract = " ".join(analysis.analyse(context, doctor=[])["abstract"])
    assert (f"final accuracy (IQM over seeds): DigitMatch-10 {entries['DigitMatch-10']['accuracy_text']}, "
            f"GaussianTarget {entries['GaussianTarget']['accuracy_text']}.") in abstract
    # The digit question reads these entries: without them it was silently left out of the report.
    answered = analysis.answers(analysis.QuestionContext(context, {}, list(entries.values())))
    assert [a["name"] for a in answered] == ["digit_accuracy"]
    assert answered[0]["answer"].startswith("DigitMatch-10: exact-match accuracy")


# Near 500 of 500 in both CartPole environments (normalised >= 0.989), critic clearly the highest.
AT_CEILING = {"mlp [baseline=none]": [495.0, 495.5, 496.0, 496.5],
              "mlp [baseline=running_mean]": [495.2, 495.7, 496.2, 496.7],
              "mlp [baseline=critic]": [499.0, 499.3, 499.6, 499.9]}


def test_a_row_where_every_variant_is_at_the_ceiling_is_said_to_separate_nothing():
    context = make_context(*with_six_seeds(AT_CEILING))
    # In CartPole-P, none's IQM stays above the ceiling (486, normalised 0.97) but its interval dips below it.
    dip = (context.runs["env"] == "CartPole-P") & (context.runs["label"] == "mlp [baseline=none]")
    context.runs.loc[dip, "final_score"] = [455.0, 475.0, 490.0, 500.0, 485.0, 495.0]
    context.runs.loc[dip, "normalised_score"] = (context.runs.loc[dip, "final_score"] - 22.3) / (500 - 22.3)
    result = analysis.analyse(context, doctor=[])
    experiment = result["experiments"]["baseline"]
    flagged, dipped = experiment["table"]["rows"]
    assert flagged["ceiling"] and not flagged["uninformative"]
    assert flagged["ceiling_note"] == ("every variant at the ceiling (normalised ≥ 0.95): a difference here is under "
                                       "5% of the distance from random to target, not counted as a finding")
    # The test still finds critic significantly highest, but it is not presented as a finding.
    assert flagged["best"] is None and not any(cell["best"] for cell in flagged["cells"])
    assert flagged["verdict"].startswith("highest, not named best at the ceiling: mlp [baseline=critic] (IQM difference")
    none = next(c for c in dipped["cells"] if c["label"] == "mlp [baseline=none]")
    spec = envs.spec_for("CartPole-P")
    assert spec.normalise(none["estimate"]) >= analysis.CEILING > spec.normalise(none["low"])
    assert not dipped["ceiling"] and dipped["ceiling_note"] == ""
    assert dipped["verdict"].startswith("best: mlp [baseline=critic]")  # an ordinary verdict: not at the ceiling
    assert experiment["ceiling"] == ["CartPole-v1"] and "CartPole-v1" in experiment["ceiling_note"]
    assert "kept in the aggregate" in experiment["ceiling_note"] and "however small" in experiment["ceiling_note"]
    assert "baseline: every variant at the ceiling on CartPole-v1" in " ".join(result["abstract"])  # no title: its name
    # Kept in the aggregate and the probabilities of improvement (leaving them out would pick tasks after
    # seeing the scores): both rest on both environments, CartPole-P's dip included.
    runs = analysis.experiment_runs(context, "baseline")
    both = {label: analysis.score_matrix(runs, label, ["CartPole-v1", "CartPole-P"], "normalised_score")
            for label in ("mlp [baseline=critic]", "mlp [baseline=none]")}
    critic = next(e for e in experiment["aggregate"] if e["label"] == "mlp [baseline=critic]")
    assert critic["iqm"]["estimate"] == pytest.approx(analysis.stats.iqm(both["mlp [baseline=critic]"]))
    pair = next(p for p in experiment["improvements"] if p["x"] == "mlp [baseline=critic]")
    assert pair["estimate"] == pytest.approx(analysis.stats.probability_of_improvement(*both.values()))


def test_the_abstract_ranks_no_variant_on_ceiling_rows_alone():
    # Both rows at the ceiling, the intervals apart: the aggregate "ranks" a hair's difference.
    experiment = analysis.analyse(make_context(scores=AT_CEILING), doctor=[])["experiments"]["baseline"]
    assert experiment["ceiling"] == ["CartPole-v1", "CartPole-P"]
    ranked = sorted(experiment["aggregate"], key=lambda e: -e["iqm"]["estimate"])
    assert ranked[1]["iqm"]["high"] < ranked[0]["iqm"]["low"]  # no overlap: the old rule would rank them
    sentence = next(s for s in analysis.abstract({"baseline": experiment}) if "highest normalised IQM" in s)
    assert "every task of its aggregate is at the ceiling (CartPole-v1, CartPole-P)" in sentence
    assert sentence.endswith("the aggregate does not rank them.")


def test_an_environment_without_reference_scores_is_never_at_the_ceiling():
    # The same scores in both rows: CartPole-v1 normalises them (>= 0.989), MountainCar-v0 cannot.
    both = ["CartPole-v1", "MountainCar-v0"]
    config = {**CONFIG, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": both}}}
    six, scores = with_six_seeds(AT_CEILING)
    context = make_context(config={**config, "profiles": six["profiles"]}, scores=scores)
    assert np.isnan(envs.spec_for("MountainCar-v0").normalise(499.0))
    cartpole, mountain_car = analysis.results_table(context, "baseline")["rows"]
    assert cartpole["ceiling"] and cartpole["best"] is None
    assert not mountain_car["ceiling"] and mountain_car["ceiling_note"] == ""
    assert mountain_car["best"] == "mlp [baseline=critic]"  # its verdict stands


def test_seeds_dropped_to_equalise_a_matrix_are_recorded():
    context = _fail(make_context(), "CartPole-P", "mlp [baseline=critic]", [3])
    experiment = analysis.analyse(context, doctor=[])["experiments"]["baseline"]
    critic = next(e for e in experiment["aggregate"] if e["label"] == "mlp [baseline=critic]")
    assert critic["seeds"] == 3  # the matrix is [3 seeds, 2 envs]: CartPole-v1's seed 3 is dropped
    [drop] = experiment["seed_drops"]
    assert drop["used_for"] == "the aggregate and the probabilities of improvement" and drop["dropped"] == 1
    assert drop["variants"] == [{"label": "mlp [baseline=critic]", "kept": 3, "dropped": 1,
                                 "short": [{"env": "CartPole-P", "n": 3}]}]
    assert ("mlp [baseline=critic]: 1 finished seed dropped to keep 3 per environment (CartPole-P has 3)"
            in drop["text"])
    pair = next(p for p in experiment["improvements"] if p["x"] == "mlp [baseline=critic]")
    assert (pair["n_x"], pair["n_y"], pair["n_text"]) == (3, 4, "3, 4")
    assert analysis.analyse(make_context(), doctor=[])["experiments"]["baseline"]["seed_drops"] == []


def test_a_variant_with_an_empty_environment_is_said_to_be_left_out():
    context = _fail(make_context(), "CartPole-P", "mlp [baseline=critic]", [0, 1, 2, 3])
    runs = analysis.experiment_runs(context, "baseline")
    drop = analysis.dropped_seeds(runs, ["mlp [baseline=critic]"], ["CartPole-v1", "CartPole-P"], "the aggregate")
    assert drop["dropped"] == 4
    assert "mlp [baseline=critic] is left out (CartPole-P has 0; its other 4 finished seeds are unused)" in drop["text"]
    assert analysis.dropped_seeds(runs, ["mlp [baseline=none]"], ["CartPole-v1", "CartPole-P"], "x") is None


def test_n_is_shown_once_per_column_per_row_or_per_cell():
    table = analysis.results_table(make_context(), "baseline")
    assert table["n_layout"] == "column" and table["column_n_text"] == ["n = 4"] * 3
    assert all(row["n_text"] == "" and all(c["n_text"] == "" for c in row["cells"]) for row in table["rows"])
    # Every variant lost seed 3 on CartPole-P: each row has one n, the columns do not.
    context = make_context()
    for label in SCORES:
        context = _fail(context, "CartPole-P", label, [3])
    table = analysis.results_table(context, "baseline")
    assert table["n_layout"] == "row" and table["column_n_text"] == ["", "", ""]
    assert [row["n_text"] for row in table["rows"]] == ["n = 4", "n = 3"]
    # One cell short: n in every cell.
    table = analysis.results_table(_fail(make_context(), "CartPole-P", "mlp [baseline=critic]", [3]), "baseline")
    assert table["n_layout"] == "cell"
    assert [[c["n_text"] for c in row["cells"]] for row in table["rows"]] == [["n = 4"] * 3, ["n = 4", "n = 4", "n = 3"]]


def test_only_experiments_that_ran_are_named():
    config = {**CONFIG, "experiments": {**CONFIG["experiments"],
                                        "memory": {"title": "Memory", "agents": ["gru"], "envs": ["CueRecall"]}}}
    result = analysis.analyse(make_context(config=config, environments=("CartPole-v1", "CartPole-P")), doctor=[])
    assert list(result["experiments"]) == ["baseline"]
    assert result["not_run"] == ["Memory"]
    assert "(baseline)" in result["introduction"] and "memory" not in result["introduction"].lower()
    assert not any("Memory" in sentence for sentence in result["abstract"])
    assert result["introduction"].startswith("We train policy-gradient agents (REINFORCE on complete episodes) that")


def test_the_introduction_names_the_experiments_that_use_the_actor_critic_estimator():
    baseline = CONFIG["experiments"]["baseline"]
    critic_only = {**baseline, "title": "Baseline", "options": {"baseline": ["critic"]}, "reference": {"baseline": "critic"}}
    scores = {"mlp [baseline=critic]": SCORES["mlp [baseline=critic]"]}
    # Everywhere, from the experiment's settings: no environment named.
    config = {**CONFIG, "experiments": {"baseline": {**critic_only, "settings": {"estimator": "gae", "normalize_returns": True}}}}
    result = analysis.analyse(make_context(config=config, scores=scores), doctor=[])
    assert result["introduction"].startswith("We train policy-gradient agents (REINFORCE on complete episodes; the "
                                             "baseline experiment uses its actor-critic form, GAE(λ) advantages "
                                             "from a learned critic, normalised over each batch) that")
    assert result["experiments"]["baseline"]["settings_text"] == (
        "Every run of this experiment trains with estimator=gae, normalize_returns=true (the experiment's settings, "
        "over the defaults and the environment settings of the setup).")
    # On one environment, from env_settings: that environment is named.
    config = {**CONFIG, "experiments": {"baseline": critic_only}, "env_settings": {"CartPole-P": {"estimator": "gae"}}}
    result = analysis.analyse(make_context(config=config, scores=scores), doctor=[])
    assert ("; the baseline experiment on CartPole-P uses its actor-critic form, GAE(λ) advantages from a learned "
            "critic) that") in result["introduction"]
    assert result["experiments"]["baseline"]["settings_text"] == ""


@pytest.mark.real_threshold
def test_a_family_too_large_for_its_seeds_says_it_cannot_reject():
    # none's 20-30 against critic's 400-500 is as clear as data get; six seeds resolve it.
    config, scores = with_six_seeds(SCORES)
    fine = analysis.analyse(make_context(config, scores=scores), doctor=[])["experiments"]["baseline"]
    assert fine["table"]["resolution_note"] == "" and fine["improvements_note"] == ""
    assert any(row["best"] for row in fine["table"]["rows"])
    # Five seeds: no split of 5 against 5 gives an IQM difference a p below 4/252 (the IQM ignores the runs it
    # trims), and 4 table comparisons x 4/252 = 0.063 >= 0.05: no verdict can be "best", and the report says why.
    five = {**CONFIG, "profiles": {"tiny": {**CONFIG["profiles"]["tiny"], "seeds": 5}}}
    few = analysis.analyse(make_context(five, scores={k: v[:5] for k, v in scores.items()}), doctor=[])
    experiment = few["experiments"]["baseline"]
    assert not any(row["best"] for row in experiment["table"]["rows"])
    # No verdict, and no cell shaded as tied: the seeds, not the data, decided it.
    assert experiment["table"]["testable"] is False and experiment["table"]["smallest_adjusted_p"] == 4 * 4 / 252
    for row in experiment["table"]["rows"]:
        assert row["verdict"].startswith("not testable (no power at α = 0.05 with n = 5: no adjusted p of this row can "
                                         "fall below 0.063); IQM difference to the runner-up"), row["verdict"]
        assert not any(cell["tied"] or cell["best"] for cell in row["cells"])
    assert ("baseline: at these seeds the per-environment table cannot reject any difference (no Holm-adjusted p of "
            "its 4 comparisons can fall below 0.063 ≥ α = 0.05), so its rows give no verdict: a limit of the seeds, "
            "not a tie.") in few["abstract"]
    assert fine["table"]["testable"] and not any("not testable" in row["verdict"] for row in fine["table"]["rows"])
    assert not any("per-environment table cannot reject" in sentence
                   for sentence in analysis.analyse(make_context(config, scores=scores), doctor=[])["abstract"])
    assert experiment["table"]["resolution_note"].startswith(
        "With these seeds a permutation p-value is at least 0.016 (every run of one variant above every run of the "
        "other), so after Holm over 4 comparisons none can fall below 0.063 ≥ α = 0.05")
    # P(X > Y) pooled over both tasks: 63,504 splits, 5,000 drawn, a floor of 2/5001 per test: no note there.
    assert experiment["improvements_note"] == ""


def test_doctor_summary_keeps_failures_and_one_line_per_agent():
    rows = [{"agent": "mlp", "check": f"c{i}", "status": "PASS"} for i in range(40)]
    rows += [{"agent": "gru", "check": "c0", "status": "PASS"}, {"agent": "gru", "check": "no_leak", "status": "FAIL"},
             {"agent": "gru", "check": "reset_matters", "status": "n/a"}]
    summary = analysis.doctor_summary(rows)
    assert summary["failures"] == [{"agent": "gru", "check": "no_leak", "status": "FAIL"}]
    assert [a["text"] for a in summary["agents"]] == ["all 40 checks passed", "1 of 2 checks failed (1 not applicable)"]
    # The section's total is what the per-agent lines add up to (40 + 2), the n/a one said apart.
    assert summary["checks_text"] == "42 applicable checks (1 not applicable)"


def test_doctor_files_keep_not_applicable_as_a_status(tmp_path):
    path = tmp_path / "mlp.csv"
    path.write_text("agent,head,baseline,check,status,detail\nmlp,-,-,reset_matters,n/a,\nmlp,c,none,loss,PASS,\n")
    rows = analysis.read_doctor([str(path)])
    assert [row["status"] for row in rows] == ["n/a", "PASS"] and rows[0]["detail"] == ""
    assert analysis.doctor_summary(rows)["failures"] == []


def test_parameter_counts_come_from_the_runs_table(context):
    counts = analysis.analyse(context, doctor=[])["parameters"]
    # Every run of the fixture records 100 parameters; the default baseline is the critic.
    assert counts["mlp"] == {"actor": "100", "with_critic": "100"}


def test_a_reference_agent_compares_every_other_agent_and_explicit_pairs_win():
    config = copy.deepcopy(CONFIG)
    config["experiments"] = {"memory": {"agents": ["mlp", "gru", "lstm", "window"], "envs": ["CartPole-v1"],
                                        "reference_agent": "gru", "pairs": [["gru", "mlp"]]}}
    scores = {"mlp": [1.0, 2.0, 3.0, 4.0], "gru": [5.0, 6.0, 7.0, 8.0], "lstm": [5.0, 6.0, 7.0, 9.0],
              "window": [2.0, 3.0, 4.0, 5.0]}
    pairs = analysis.ablation_pairs(make_context(config, scores), "memory")
    # A new agent (window) is compared with gru without a pair of its own; (mlp, gru) is not
    # repeated, the explicit (gru, mlp) is kept.
    assert pairs == [("gru", "mlp"), ("lstm", "gru"), ("window", "gru")]


def test_finished_runs_with_warnings_are_listed_for_the_appendix(context):
    runs = context.runs.assign(warnings="")
    first = runs.index[0]
    runs.loc[first, "warnings"] = "the policy loss is exactly 0 in 100% of updates"
    listed = analysis.run_warnings(dataclasses.replace(context, runs=runs))
    row = runs.loc[first]
    assert listed == [{"run": f"{row.env}/{row.label}/seed{row.seed}",
                       "warnings": "the policy loss is exactly 0 in 100% of updates"}]
    assert analysis.run_warnings(dataclasses.replace(context, runs=runs.assign(warnings=""))) == []


@pytest.mark.real_threshold
def test_the_abstract_does_not_read_too_few_seeds_as_no_difference(context):
    # 4 seeds: no pair is tested, so the abstract must not say "no clear difference".
    result = analysis.analyse(context, doctor=[])
    text = " ".join(result["abstract"])
    assert "too few seeds to test the ablation pairs" in text and "no ablation pair shows" not in text


def test_ablation_pairs_that_cannot_reject_at_their_seeds_are_not_testable_not_no_difference():
    # One task, 4 seeds against 4: a P(X > Y) test's p is at least 2/70, and its family of two (two pairs, final
    # score only: these runs record no curves) cannot go below 2 x 2/70 = 0.057, however far apart the variants
    # (critic's 400s against none's 20s).
    one_task = {**CONFIG, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": ["CartPole-v1"]}}}
    result = analysis.analyse(make_context(one_task), doctor=[])
    experiment = result["experiments"]["baseline"]
    critic = next(p for p in experiment["improvements"] if "critic" in p["x"] + p["y"])
    assert critic["verdict"] == analysis.NOT_TESTABLE and critic["learning_area"] is None
    assert critic["sentence"].startswith("not testable (no power at α = 0.05 with n = 4: its adjusted p cannot fall "
                                         "below 0.057), P(X > Y) = ")
    text = " ".join(result["abstract"])
    assert "no ablation pair shows" not in text
    assert "baseline: too few seeds to test the ablation pairs at α = 0.05 after Holm: With these seeds" in text
    # Two tasks, 4 seeds: 2/4900 per test (the floor counts the tasks), and the critic's pair rejects.
    two_tasks = analysis.analyse(make_context(), doctor=[])["experiments"]["baseline"]
    assert len(two_tasks["envs"]) == 2 and two_tasks["improvements_note"] == ""
    assert next(p for p in two_tasks["improvements"] if "critic" in p["x"] + p["y"])["verdict"] in ("better", "worse")
    # Six seeds: 2/924 per test, the same family can reject, and does.
    config, scores = with_six_seeds(SCORES)
    six = analysis.analyse(make_context({**one_task, "profiles": config["profiles"]}, scores), doctor=[])
    verdicts = {p["verdict"] for p in six["experiments"]["baseline"]["improvements"]}
    assert analysis.NOT_TESTABLE not in verdicts and "better" in verdicts | {p["verdict"].replace("worse", "better")
                                                                              for p in six["experiments"]["baseline"]["improvements"]}


@pytest.mark.real_threshold
def test_an_ablation_pair_with_too_few_seeds_spends_no_share_of_the_experiments_alpha():
    # Six seeds, but running_mean keeps three on CartPole-v1: its pair says "too few seeds" and leaves the family,
    # so the critic's pair is a family of one (final score; no areas recorded), its p unadjusted.
    config, scores = with_six_seeds(SCORES)
    one_task = {**config, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": ["CartPole-v1"]}}}
    context = _fail(make_context(one_task, scores), "CartPole-v1", "mlp [baseline=running_mean]", [3, 4, 5])
    experiment = analysis.analyse(context, doctor=[])["experiments"]["baseline"]
    pairs = {p["x"]: p for p in experiment["improvements"]}
    assert pairs["mlp [baseline=running_mean]"]["verdict"] == "too few seeds to tell"
    critic = pairs["mlp [baseline=critic]"]
    assert critic["adjusted_p"] == critic["p_value"] and critic["verdict"] == "better"


def _aggregate_entry(label: str, estimate: float, low: float, high: float) -> dict:
    return {"label": label, "iqm": {"estimate": estimate, "low": low, "high": high,
                                    "text": f"{estimate} [{low}, {high}]"}}


def test_the_abstract_gives_the_one_step_tasks_accuracy_beside_their_normalised_scores():
    # DigitMatch-100's normalised 0.61 is near misses scoring; its exact-match accuracy is 4 %: both are said.
    one_step = {"title": "One-step tasks", "aggregate": [_aggregate_entry("mlp", 0.95, 0.9, 0.96)], "improvements": [],
                "uninformative": [], "ceiling": [], "envs": ["DigitMatch-10", "DigitMatch-100"],
                "aggregate_envs": ["DigitMatch-10", "DigitMatch-100"],
                "task_scores": {"mlp": [{"env": "DigitMatch-10", "text": "1.00 [1.00, 1.00]"},
                                        {"env": "DigitMatch-100", "text": "0.612 [0.518, 0.789]"}]}}
    bandits = [{"env": "DigitMatch-10", "accuracy_text": "1.00 [1.00, 1.00]"},
               {"env": "DigitMatch-100", "accuracy_text": "0.0417 [0.0104, 0.104]"},
               {"env": "GaussianTarget", "accuracy_text": "0.667 [0, 1.00] (|a − 3| ≤ 0.1)"}]
    assert analysis.abstract({"bandits": one_step}, bandits)[0] == (
        "One-step tasks: mlp's normalised IQM is 0.95 [0.9, 0.96]; per task: DigitMatch-10 1.00 [1.00, 1.00], "
        "DigitMatch-100 0.612 [0.518, 0.789]; final accuracy (IQM over seeds): DigitMatch-10 1.00 [1.00, 1.00], "
        "DigitMatch-100 0.0417 [0.0104, 0.104].")


def test_the_abstract_ranks_the_top_variant_only_when_its_lead_is_tested_significant():
    def experiment(*entries, leader=None):
        return {"title": "Memory", "aggregate": list(entries), "improvements": [], "uninformative": [], "ceiling": [],
                "aggregate_envs": ["CartPole-P"], "leader": leader}

    tie = {"top": "gru", "runner_up": "gru_cell", "tested": True, "significant": False, "text": "IQM difference 0.07 [-0.05, 0.2], p = 0.31"}
    tied = analysis.abstract({"m": experiment(_aggregate_entry("gru", 0.98, 0.95, 1.0),
                                              _aggregate_entry("gru_cell", 0.91, 0.82, 0.93), leader=tie)})
    # Not ranked although the intervals do not overlap: the test of the difference decides.
    assert tied[0] == ("Memory: the highest normalised IQM is gru's (0.98 [0.95, 1.0]), but not clearly ahead of "
                       "gru_cell's (0.91 [0.82, 0.93]): IQM difference 0.07 [-0.05, 0.2], p = 0.31 (one test of the top "
                       "two, p unadjusted).")
    lead = {"top": "gru", "runner_up": "mlp", "tested": True, "significant": True, "estimate": 0.68,
            "text": "IQM difference 0.68 [0.6, 0.75], p ≤ 0.0010"}
    apart = analysis.abstract({"m": experiment(_aggregate_entry("gru", 0.98, 0.95, 1.0),
                                               _aggregate_entry("mlp", 0.3, 0.2, 0.4), leader=lead)})
    assert apart[0] == ("Memory: the highest normalised IQM is gru's (0.98 [0.95, 1.0]), ahead of mlp's: "
                        "IQM difference 0.68 [0.6, 0.75], p ≤ 0.0010 (one test of the top two, p unadjusted).")
    # A significant lead of 0.0016 normalised (1,000 runs can make anything significant) is not a finding.
    sliver = {**lead, "estimate": 0.0016, "text": "IQM difference 0.0016 [0.0001, 0.008], p = 0.038"}
    negligible = analysis.abstract({"m": experiment(_aggregate_entry("gru", 1.0, 1.0, 1.0),
                                                    _aggregate_entry("mlp", 0.998, 0.99, 1.0), leader=sliver)})
    assert "significantly but narrowly ahead of mlp's" in negligible[0] and "not counted as a finding" in negligible[0]
    assert ", ahead of" not in negligible[0]
    few = {"top": "gru", "runner_up": "mlp", "tested": False, "significant": False,
           "text": "not tested with 3 seeds (a test needs 5)"}
    too_few = analysis.abstract({"m": experiment(_aggregate_entry("gru", 0.98, 0.95, 1.0),
                                                 _aggregate_entry("mlp", 0.3, 0.2, 0.4), leader=few)})
    assert too_few[0].endswith("not clearly ahead of mlp's (0.3 [0.2, 0.4]): not tested with 3 seeds (a test needs 5).")
    untested = analysis.abstract({"m": experiment(_aggregate_entry("gru", 0.98, 0.95, 1.0),
                                                  _aggregate_entry("mlp", 0.3, 0.2, 0.4))})
    assert untested[0].endswith("; its lead over mlp's (0.3 [0.2, 0.4]) is not tested.")
    alone = analysis.abstract({"m": experiment(_aggregate_entry("mlp", 0.6, 0.5, 0.7))})
    assert alone[0] == "Memory: mlp's normalised IQM is 0.6 [0.5, 0.7]." and "highest" not in alone[0]
    # Over several tasks it names each task's score: an IQM over tasks trims the failed one away.
    per_task = {"mlp": [{"env": "DigitMatch-10", "text": "1.00 [1.00, 1.00]"}, {"env": "DigitMatch-100", "text": "0.04 [0.03, 0.05]"}]}
    alone = analysis.abstract({"m": {**experiment(_aggregate_entry("mlp", 0.6, 0.5, 0.7)), "task_scores": per_task}})
    assert alone[0] == ("Memory: mlp's normalised IQM is 0.6 [0.5, 0.7]; per task: DigitMatch-10 1.00 [1.00, 1.00], "
                        "DigitMatch-100 0.04 [0.03, 0.05].")


@pytest.mark.real_threshold
def test_the_leader_test_separates_a_clear_lead_and_not_a_coin_flip():
    # Five seeds of two variants on one task: 430 vs 120 (clear), then 430 vs 428 (noise).
    apart = {"mlp [baseline=critic]": [425.0, 430.0, 435.0, 428.0, 432.0], "mlp [baseline=none]": [115.0, 120.0, 125.0, 118.0, 122.0],
             "mlp [baseline=running_mean]": [20.0, 21.0, 22.0, 23.0, 24.0]}
    def seeds(n):
        return {**CONFIG, "profiles": {"tiny": {**CONFIG["profiles"]["tiny"], "seeds": n}}}

    result = analysis.analyse(make_context(seeds(5), scores=apart), doctor=[])["experiments"]["baseline"]
    assert result["leader"]["significant"] and result["leader"]["text"].startswith("IQM difference 0.6")
    close = {**apart, "mlp [baseline=none]": [424.0, 431.0, 434.0, 427.0, 433.0]}
    result = analysis.analyse(make_context(seeds(5), scores=close), doctor=[])["experiments"]["baseline"]
    assert not result["leader"]["significant"] and "p = " in result["leader"]["text"]
    few = {label: values[:3] for label, values in apart.items()}
    result = analysis.analyse(make_context(seeds(3), scores=few), doctor=[])["experiments"]["baseline"]
    assert result["leader"] == {"top": "mlp [baseline=critic]", "runner_up": "mlp [baseline=none]", "tested": False,
                                "significant": False, "text": "not tested with 3 seeds (a test needs 5)"}


def test_task_scores_give_each_variant_its_normalised_interval_per_aggregate_task(context):
    table = analysis.results_table(context, "baseline")
    scores = analysis.task_scores(table, ["CartPole-v1"])
    assert set(scores) == set(SCORES) and all(len(v) == 1 and v[0]["env"] == "CartPole-v1" for v in scores.values())
    critic = scores["mlp [baseline=critic]"][0]["text"]  # IQM 430 on CartPole-v1: (430 - 22.3) / (500 - 22.3)
    assert critic.startswith(f"{(430 - 22.3) / (500 - 22.3):.3f} [")
    # The experiment's result carries them for the abstract, over the aggregate's tasks.
    result = analysis.analyse(context, doctor=[])["experiments"]["baseline"]
    assert [t["env"] for t in result["task_scores"]["mlp [baseline=critic]"]] == result["aggregate_envs"]


@pytest.mark.real_threshold
def test_the_introduction_says_no_difference_is_tested_below_five_seeds(context):
    text = analysis.introduction(context, ["baseline"])  # 4 seeds per cell
    assert "no difference is tested" in text and "Holm-adjusted" not in text
    full = make_context(config=_profile(seeds=5, budget_scale=1.0), scores=_scores(5))
    assert "Holm-adjusted" in analysis.introduction(full, ["baseline"])


# A settings sweep (the tune experiment): IQM per environment and setting, the configuration's choice marked.

TUNE_CONFIG = {
    **CONFIG, "env_settings": {"CartPole-P": {"num_envs": 64, "budget": 1000}},
    "experiments": {"tune": {"title": "Settings sweep", "sweep": True, "agents": ["mlp"], "envs": ["CartPole-v1", "CartPole-P"],
                             "options": {"lr": [0.003, 0.01], "num_envs": [16, 64]}}},
}
TUNE_SCORES = {"mlp [lr=0.003, num_envs=16]": [100.0, 200.0, 300.0, 1000.0],   # IQM 250 (middle two)
               "mlp [lr=0.003, num_envs=64]": [400.0, 420.0, 440.0, 0.0],      # IQM 410
               "mlp [lr=0.01, num_envs=16]": [50.0, 60.0, 70.0, 80.0],         # IQM 65
               "mlp [lr=0.01, num_envs=64]": [500.0, 480.0, 460.0, 440.0]}     # IQM 470


def _tune_context(config: dict = TUNE_CONFIG) -> analysis.Context:
    return dataclasses.replace(make_context(config, TUNE_SCORES), config=config)


def test_a_sweep_gives_the_normalised_iqm_of_every_setting_and_marks_the_chosen_one():
    sweep = analysis.sensitivity_table(_tune_context(), "tune")
    assert sweep["x"] == "lr" and sweep["options"] == ["lr", "num_envs"] and sweep["combinations"] == 4
    assert sweep["grid_text"] == "lr ∈ {0.003, 0.01} × num_envs ∈ {16, 64}" and sweep["seeds"] == 4
    assert [row["env"] for row in sweep["rows"]] == ["CartPole-v1", "CartPole-P"]
    expected = {"mlp [lr=0.003, num_envs=16]": 250.0, "mlp [lr=0.003, num_envs=64]": 410.0,
                "mlp [lr=0.01, num_envs=16]": 65.0, "mlp [lr=0.01, num_envs=64]": 470.0}
    for row in sweep["rows"]:
        assert row["score"] == "normalised score"
        cells = {cell["label"]: cell for cell in row["cells"]}
        for label, iqm in expected.items():
            cell = cells[label]
            assert cell["estimate"] == pytest.approx((iqm - 22.3) / (500 - 22.3))
            assert cell["low"] <= cell["estimate"] <= cell["high"] and cell["n"] == 4
        assert cells["mlp [lr=0.01, num_envs=64]"]["settings"] == {"lr": 0.01, "num_envs": 64}
        assert cells["mlp [lr=0.01, num_envs=64]"]["line"] == "num_envs=64"
        assert cells["mlp [lr=0.01, num_envs=64]"]["settings_text"] == "lr=0.01, num_envs=64"
    # CartPole-v1 has no env_settings (the defaults: lr 0.003, 16 episodes); CartPole-P has 64 episodes per update.
    chosen = {row["env"]: [cell["label"] for cell in row["cells"] if cell["chosen"]] for row in sweep["rows"]}
    assert chosen == {"CartPole-v1": ["mlp [lr=0.003, num_envs=16]"], "CartPole-P": ["mlp [lr=0.003, num_envs=64]"]}
    assert sweep["rows"][1]["chosen_text"] == "lr=0.003, num_envs=64" and sweep["rows"][1]["note"] == ""


def test_a_sweep_says_when_the_chosen_setting_is_outside_its_grid_or_unknown():
    config = {**TUNE_CONFIG, "defaults": {"lr": 0.001}}
    rows = analysis.sensitivity_table(_tune_context(config), "tune")["rows"]
    assert not any(cell["chosen"] for row in rows for cell in row["cells"])
    assert rows[0]["note"] == "the configured settings (lr=0.001, num_envs=16) are not in this grid"
    unmarked = analysis.sensitivity_table(dataclasses.replace(_tune_context(), config=None), "tune")["rows"]
    assert not any(cell["chosen"] for row in unmarked for cell in row["cells"])
    assert unmarked[0]["note"].startswith("chosen settings not marked")


def test_only_a_sweep_that_ran_gets_a_sensitivity_table():
    result = analysis.analyse(_tune_context(), doctor=[])
    assert list(result["sweeps"]) == ["tune"]
    json.dumps(result, allow_nan=True)  # plain data for the template
    # One interval per setting: the sweep's is the results table's, on the normalised scale.
    spec = envs.spec_for("CartPole-v1")
    table_cell = result["experiments"]["tune"]["table"]["rows"][0]["cells"][0]
    sweep_cell = result["sweeps"]["tune"]["rows"][0]["cells"][0]
    assert [sweep_cell[k] for k in ("estimate", "low", "high")] == pytest.approx(
        [spec.normalise(table_cell[k]) for k in ("estimate", "low", "high")])
    assert analysis.analyse(make_context(), doctor=[])["sweeps"] == {}
    # The flag decides, not the name: the same experiment without `sweep: true` is an ordinary table.
    config = copy.deepcopy(TUNE_CONFIG)
    del config["experiments"]["tune"]["sweep"]
    assert analysis.analyse(_tune_context(config), doctor=[])["sweeps"] == {}


def test_a_sweep_draws_no_bootstrap_of_its_own(monkeypatch):
    context = _tune_context()
    table = analysis.results_table(context, "tune")

    def no_second_draw(*args, **kwargs):
        raise AssertionError("the sweep bootstrapped its cells again")

    monkeypatch.setattr(analysis.stats, "bootstrap_interval", no_second_draw)
    sweep = analysis.sensitivity_table(context, "tune", table)
    assert all(cell["n"] == 4 for row in sweep["rows"] for cell in row["cells"])


# The critic's fit: its late explained variance per critic cell, median and range over seeds, no interval.

def _with_critic_fit(context: analysis.Context, values: dict[tuple[str, str], list[float]]) -> analysis.Context:
    """``values``: (env, label) -> the figure of seeds 0, 1, ... as run.json recorded it (NaN: not recorded)."""
    nan = [float("nan")] * 99
    context.runs = context.runs.assign(critic_explained_variance=[
        values.get((run.env, run.label), nan)[run.seed] for run in context.runs.itertuples()])
    return context


def test_the_same_runs_show_the_same_interval_in_every_table():
    # mlp with the default baseline (critic) on CartPole-v1: the same runs in both experiments.
    config = {**_profile(seeds=10, budget_scale=1.0),
              "experiments": {**CONFIG["experiments"], "solo": {"agents": ["mlp"], "envs": ["CartPole-v1"]}}}
    spread = [300.0, 480.0, 350.0, 420.0, 390.0, 460.0, 310.0, 440.0, 370.0, 500.0]
    scores = {label: [v + 1 for v in spread] for label in SCORES} | {"mlp": spread}
    context = make_context(config=config, scores=scores)

    def interval(experiment: str, label: str, ctx: analysis.Context = context) -> tuple[float, float, float]:
        cell = {c["label"]: c for c in analysis.results_table(ctx, experiment)["rows"][0]["cells"]}[label]
        return cell["estimate"], cell["low"], cell["high"]

    shared = interval("baseline", "mlp [baseline=critic]")
    assert interval("solo", "mlp") == shared and shared[1] < shared[0] < shared[2]
    # On the normalised scale too: the solo experiment's aggregate (one task) is the cell's interval, mapped.
    (aggregate,) = analysis.aggregate_scores(context, "solo")
    normalised = [(v - 22.3) / (500 - 22.3) for v in shared]
    assert [aggregate["iqm"][k] for k in ("estimate", "low", "high")] == pytest.approx(normalised, abs=1e-12)
    # It depends on the data and the analysis seed, not on what was drawn before.
    moved = interval("solo", "mlp", analysis.Context(context.plan, context.runs, context.curves, context.membership, 1))
    assert moved != shared and moved[0] == shared[0]


def test_the_critic_fit_gives_median_range_and_n_of_each_critic_cell_and_says_not_recorded():
    critic, none = "mlp [baseline=critic]", "mlp [baseline=none]"
    context = _with_critic_fit(make_context(), {("CartPole-v1", critic): [0.2, 0.9, float("nan"), 0.5],
                                                ("CartPole-v1", none): [-5.0] * 4})  # no critic: never read
    table = analysis.critic_fit_table(context, "baseline")
    assert table["labels"] == [critic]  # only the critic arm has a column
    cartpole, hidden = table["rows"]
    assert (cartpole["env"], hidden["env"]) == ("CartPole-v1", "CartPole-P")
    cell = cartpole["cells"][0]
    assert (cell["median"], cell["low"], cell["high"], cell["n"], cell["finished"]) == (0.5, 0.2, 0.9, 3, 4)
    assert cell["text"] == "0.50 (range 0.20 to 0.90), n = 3 of 4"
    assert hidden["cells"][0] == {"label": critic, "n": 0, "finished": 4, "text": "not recorded"}
    assert cartpole["note"] == hidden["note"] == ""
    # On a one-step task the row says why the critic cannot explain its targets.
    config = {**CONFIG, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": ["GaussianTarget"]}}}
    (one_step,) = analysis.critic_fit_table(make_context(config=config), "baseline")["rows"]
    assert one_step["note"].startswith("one-step task: the return is the reward of an action sampled")
    result = analysis.analyse(context, doctor=[])
    assert list(result["critic_fit"]) == ["baseline"] and result["critic_fit"]["baseline"] == table
    json.dumps(result, allow_nan=True)  # plain data for the template


def test_the_critic_fit_of_tables_written_before_the_column_existed_is_not_recorded(context):
    assert "critic_explained_variance" not in context.runs
    table = analysis.critic_fit_table(context, "baseline")
    assert [cell["text"] for row in table["rows"] for cell in row["cells"]] == ["not recorded"] * 2


def test_the_critic_fit_says_missing_cells_and_variants_without_a_critic_on_an_environment():
    config = {**CONFIG, "env_settings": {"CartPole-P": {"baseline": "none"}},
              "experiments": {"memory": {"agents": ["mlp", "gru"], "envs": ["CartPole-v1", "CartPole-P"]}}}
    scores = [400.0, 420.0, 440.0, 460.0]
    context = _with_critic_fit(make_context(config, {"mlp": scores, "gru": scores}),
                               {("CartPole-v1", "mlp"): [0.7] + [float("nan")] * 3})
    context.runs = context.runs[(context.runs["agent"] != "gru") | (context.runs["env"] != "CartPole-v1")]
    table = analysis.critic_fit_table(context, "memory")
    assert table["labels"] == ["mlp", "gru"]
    texts = {row["env"]: [cell["text"] for cell in row["cells"]] for row in table["rows"]}
    assert texts == {"CartPole-v1": ["0.70, n = 1 of 4", "missing"], "CartPole-P": ["no critic", "no critic"]}


def test_an_experiment_without_a_critic_has_no_critic_fit():
    config = copy.deepcopy(CONFIG)
    config["experiments"]["baseline"]["options"]["baseline"] = ["none", "running_mean"]
    context = make_context(config)
    assert analysis.critic_fit_table(context, "baseline") is None
    assert analysis.analyse(context, doctor=[])["critic_fit"] == {}


def test_the_speed_ratio_gives_its_median_and_the_spread_of_single_pairs():
    config = {**CONFIG, "experiments": {"memory": {"agents": ["gru", "gru_cell"], "envs": ["CartPole-P"]}}}
    context = make_context(config=config, scores={"gru": [1.0] * 4, "gru_cell": [1.0] * 4})
    gru = context.runs["agent"] == "gru"
    context.runs.loc[gru, "steps_per_second"] = [80.0, 110.0, 120.0, 150.0]  # gru_cell: 100 each
    ratio = analysis.speed_ratio(context, "gru", "gru_cell")
    assert ratio["ratio"] == pytest.approx(1.15) and (ratio["low"], ratio["high"]) == (0.8, 1.5)
    assert ratio["pairs_text"] == "median over 4 paired runs; single pairs from 0.800 to 1.50"


def test_the_setup_says_how_many_replicates_each_kind_of_interval_draws_and_where_p_comes_from():
    text = analysis.bootstrap_text(make_context().plan)  # bootstrap_replicates: 200
    assert text.startswith("200 replicates for the intervals of the tables and aggregates, 200 for the P(X > Y) intervals")
    assert "stratified permutation tests" in text and "every split when there are at most 5,000" in text
    assert "the exact Mann-Whitney test" in text
    big = load_plan({**CONFIG, "bootstrap_replicates": 2000}, check_registries=False)
    assert "1,000 for the P(X > Y) intervals" in analysis.bootstrap_text(big)


def test_the_abstract_states_a_clear_pair_once_in_words():
    pair = {"x": "gru", "y": "mlp", "verdict": "better",
            "sentence": "better, P(X > Y) = 1.00 [1.00, 1.00], Holm-adjusted p ≤ 0.010"}
    experiment = {"title": "Memory", "aggregate": [], "improvements": [pair], "uninformative": [], "ceiling": [],
                  "aggregate_envs": []}
    assert analysis.abstract({"m": experiment}) == [
        "Memory: gru versus mlp, final score: better, P(X > Y) = 1.00 [1.00, 1.00], Holm-adjusted p ≤ 0.010."]


def test_the_abstract_names_every_pair_that_differs_in_final_score():
    pairs = [{"x": x, "y": "gru", "verdict": "worse", "sentence": f"worse, P(X > Y) = 0.{i}00, Holm-adjusted p ≤ 0.020"}
             for i, x in enumerate(["window", "lstm", "gru_cell"], start=1)]
    experiment = {"title": "Memory", "aggregate": [], "improvements": pairs, "uninformative": [], "ceiling": [],
                  "aggregate_envs": []}
    sentences = analysis.abstract({"m": experiment})
    assert sentences[:2] == [f"Memory: {p['x']} versus gru, final score: {p['sentence']}." for p in pairs[:2]]
    assert sentences[2] == ("Memory: also different in final score (the ablation table gives both measures): "
                            "gru_cell versus gru: worse, P(X > Y) = 0.300, Holm-adjusted p ≤ 0.020.")


def _with_learning_areas(context: analysis.Context, areas: dict[str, list[float]]) -> analysis.Context:
    runs = context.runs.copy()
    runs[analysis.LEARNING_AREA] = [areas[label][seed] for label, seed in zip(runs["label"], runs["seed"])]
    return dataclasses.replace(context, runs=runs)


def test_variants_tied_at_the_end_are_told_apart_by_the_area_under_their_learning_curves():
    # Every variant ends at the same scores; the critic's runs earned more on the way (a larger area).
    ended = [480.0, 490.0, 495.0, 500.0]
    context = make_context(scores={label: ended for label in SCORES})
    areas = {"mlp [baseline=none]": [0.30, 0.32, 0.34, 0.36], "mlp [baseline=running_mean]": [0.31, 0.33, 0.35, 0.37],
             "mlp [baseline=critic]": [0.80, 0.82, 0.84, 0.86]}
    pairs = {(p["x"], p["y"]): p for p in analysis.improvements(_with_learning_areas(context, areas), "baseline")}
    critic = pairs[("mlp [baseline=critic]", "mlp [baseline=none]")]
    assert critic["verdict"] == "no clear difference" and critic["estimate"] == 0.5
    assert critic["learning_area"]["verdict"] == "better" and critic["learning_area"]["estimate"] == 1.0
    assert critic["learning_area"]["sentence"].startswith("better, P(X > Y) = 1.00 [") and critic["learning_area_note"] == ""
    close = pairs[("mlp [baseline=running_mean]", "mlp [baseline=none]")]["learning_area"]
    assert close["verdict"] == "no clear difference" and close["estimate"] == pytest.approx(10 / 16)
    # Both measures of both pairs are one Holm family of four tests: the smallest p is multiplied by 4.
    tests = [t for p in pairs.values() for t in (p, p["learning_area"])]
    smallest = min(tests, key=lambda t: t["p_value"])
    assert smallest["adjusted_p"] == pytest.approx(min(1.0, 4 * smallest["p_value"]))
    result = analysis.analyse(_with_learning_areas(context, areas), doctor=[])
    assert result["experiments"]["baseline"]["learning_area_compared"] == 2
    # Which tasks carry the verdict: every task's own P(X > Y), with what limits it there.
    shown = {(p["x"], p["y"]): p for p in result["experiments"]["baseline"]["improvements"]}
    assert shown[("mlp [baseline=critic]", "mlp [baseline=none]")]["learning_area"]["per_task"] == (
        "per task: CartPole-v1 1.00 (final scores at the ceiling), CartPole-P 1.00 (final scores at the ceiling)")
    assert any("area under the learning curve (final scores: no clear difference): better" in s for s in result["abstract"])


def test_the_abstract_says_when_the_tasks_of_a_pair_disagree():
    # gru ends above mlp on both tasks; while learning, mlp earns more on the fully observed one and gru on the
    # partially observed one. The area's aggregate averages the two: the abstract must say they are opposite.
    config = {**CONFIG, "experiments": {"memory": {"agents": ["gru", "mlp"], "envs": ["CartPole-v1", "CartPole-P"],
                                                   "reference_agent": "gru"}}}
    scores = {"gru": [300.0, 320.0, 340.0, 360.0], "mlp": [100.0, 120.0, 140.0, 160.0]}
    context = make_context(config, scores)
    runs = context.runs.copy()
    areas = {("gru", "CartPole-v1"): 0.2, ("mlp", "CartPole-v1"): 0.6, ("gru", "CartPole-P"): 0.5, ("mlp", "CartPole-P"): 0.1}
    runs[analysis.LEARNING_AREA] = [areas[(label, env)] + 0.01 * seed
                                    for label, env, seed in zip(runs["label"], runs["env"], runs["seed"])]
    result = analysis.analyse(dataclasses.replace(context, runs=runs), doctor=[])
    (pair,) = result["experiments"]["memory"]["improvements"]
    assert (pair["x"], pair["y"]) == ("mlp", "gru") and pair["verdict"] == "worse" and pair["disagreement"] == ""
    assert pair["learning_area"]["disagreement"] == (
        "the tasks point opposite ways, and the aggregate averages them: mlp ahead on CartPole-v1 (P(mlp > gru) 1.00), "
        "gru ahead on CartPole-P (P(gru > mlp) 1.00) (per-task point estimates, not tested)")
    (sentence,) = [s for s in result["abstract"] if "mlp versus gru" in s]
    assert "final score: worse, P(X > Y) = 0 [" in sentence
    assert sentence.endswith("Area under the learning curve: no clear difference, P(X > Y) = 0.500 [0.500, 0.500], "
                             "Holm-adjusted p = 1.0; " + pair["learning_area"]["disagreement"] + ".")
    # The same tasks agreeing: no clause.
    runs[analysis.LEARNING_AREA] = [0.5 + (label == "gru") * 0.2 + 0.01 * seed for label, seed in zip(runs["label"], runs["seed"])]
    (agreeing,) = analysis.improvements(dataclasses.replace(context, runs=runs), "memory")
    assert agreeing["learning_area"]["disagreement"] == "" and agreeing["learning_area"]["verdict"] == "worse"


def test_final_scores_that_point_opposite_ways_are_said_so_unless_both_variants_are_solved():
    config = {**CONFIG, "experiments": {"memory": {"agents": ["gru", "mlp", "window"],
                                                   "envs": ["CartPole-v1", "CartPole-P"], "reference_agent": "gru"}}}
    ends = {("gru", "CartPole-v1"): 100.0, ("mlp", "CartPole-v1"): 300.0, ("gru", "CartPole-P"): 300.0,
            ("mlp", "CartPole-P"): 100.0, ("window", "CartPole-v1"): 50.0, ("window", "CartPole-P"): 200.0}
    context = make_context(config, {"gru": [0.0] * 4, "mlp": [0.0] * 4, "window": [0.0] * 4})

    def with_final(ends: dict[tuple[str, str], float]) -> analysis.Context:
        runs = context.runs.copy()
        runs["final_score"] = [ends[(label, env)] + seed for label, env, seed in zip(runs["label"], runs["env"], runs["seed"])]
        runs["normalised_score"] = [envs.spec_for(env).normalise(v) for env, v in zip(runs["env"], runs["final_score"])]
        return dataclasses.replace(context, runs=runs)

    result = analysis.analyse(with_final(ends), doctor=[])
    pair = next(p for p in result["experiments"]["memory"]["improvements"] if p["x"] == "mlp")
    assert pair["verdict"] == "no clear difference" and pair["disagreement"].startswith(
        "the tasks point opposite ways, and the aggregate averages them: mlp ahead on CartPole-v1 (P(mlp > gru) 1.00)")
    # Not named by a clear verdict, so the abstract gives it a sentence of its own.
    assert ("memory: mlp versus gru, final score (overall: no clear difference, P(X > Y) = 0.500 [0.500, 0.500]): "
            + pair["disagreement"] + ".") in result["abstract"]
    # Both at the ceiling on CartPole-v1 (window is not, so the row is not flagged): a consistent gap of 6 in 500
    # counts as P = 1.00 there, but says nothing, and the pair's tasks no longer point opposite ways.
    solved = {**ends, ("gru", "CartPole-v1"): 490.0, ("mlp", "CartPole-v1"): 496.0}
    pair = next(p for p in analysis.improvements(with_final(solved), "memory") if p["x"] == "mlp")
    assert pair["per_task"].startswith("per task: CartPole-v1 1.00,") and pair["disagreement"] == ""


def test_pairs_that_act_with_different_randomness_are_not_compared_on_the_training_return():
    config = copy.deepcopy(CONFIG)
    config["experiments"] = {"entropy": {"agents": ["mlp"], "envs": ["CartPole-v1"],
                                         "options": {"entropy_coef": [0.0, 0.05]}, "reference": {"entropy_coef": 0.0}}}
    scores = {"mlp [entropy_coef=0.0]": [480.0, 490.0, 495.0, 500.0], "mlp [entropy_coef=0.05]": [480.0, 490.0, 495.0, 500.0]}
    context = make_context(config, scores)
    # The bonus's runs explore more and earn less during training: the area would call that "worse".
    areas = {"mlp [entropy_coef=0.0]": [0.8, 0.82, 0.84, 0.86], "mlp [entropy_coef=0.05]": [0.3, 0.32, 0.34, 0.36]}
    (pair,) = analysis.improvements(_with_learning_areas(context, areas), "entropy")
    assert pair["learning_area"] is None and "different randomness by design (entropy_coef)" in pair["learning_area_note"]
    # One test (the final score) in the family: its adjusted p is its raw p.
    assert pair["adjusted_p"] == pytest.approx(pair["p_value"])
    assert pair["learning_area_reason"] == "exploration"
    abstract = analysis.analyse(_with_learning_areas(context, areas), doctor=[])["abstract"]
    assert not any("area under the learning curve (final" in s for s in abstract)
    assert any("not compared where the variants act with different randomness by design" in s for s in abstract)


def test_without_learning_areas_the_pairs_are_tested_on_final_scores_alone(context):
    pairs = analysis.improvements(context, "baseline")
    assert pairs and all(p["learning_area"] is None and p["learning_area_note"].startswith("not recorded") for p in pairs)
    # One measure, two pairs: the family has two tests, as before the area was measured.
    smallest = min(pairs, key=lambda p: p["p_value"])
    assert smallest["adjusted_p"] == pytest.approx(min(1.0, 2 * smallest["p_value"]))
    # A run whose area is missing (an older run) leaves out the area test of its pairs, and the abstract counts them.
    runs = _with_learning_areas(context, {label: [0.5, 0.6, 0.7, 0.8] for label in SCORES}).runs
    runs.loc[runs["label"] == "mlp [baseline=running_mean]", analysis.LEARNING_AREA] = float("nan")
    partial = dataclasses.replace(context, runs=runs)
    by_x = {p["x"]: p for p in analysis.improvements(partial, "baseline")}
    assert by_x["mlp [baseline=running_mean]"]["learning_area"] is None
    assert by_x["mlp [baseline=critic]"]["learning_area"] is not None
