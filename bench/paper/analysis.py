"""Every number of the report, computed from the aggregated tables.

``python -m bench.paper.analysis --config-json JSON --tables DIR --out DIR`` writes
``analysis.json`` (tables, intervals, answers and the abstract's findings, all
as plain data for the template) and ``curve_summary.parquet`` /
``profiles.parquet`` (the data behind the figures). The template only presents.

The rules that keep a claim honest (Agarwal et al. 2021; Holm 1979):

- a result cell whose 95 % CI does not clear the environment's floor (the
  untrained policy's score) is marked "no learning" ("below the untrained
  policy" when the CI of its runs' change from their own untrained scores is below 0);
- "best" and "tied" come from stratified permutation tests of the IQM difference
  between the top variant and each other one (intervals from the stratified
  bootstrap), Holm-adjusted over the experiment's table; "best" is named only when it beats every other variant, the runner-up included;
- an environment where no variant clears the floor is uninformative at this budget
  and left out of the experiment's aggregate and its probabilities of improvement;
- an environment where every variant's interval lies at the ceiling (normalised >= ``CEILING``)
  cannot separate the variants at this budget: it is said so (in its row, the experiment's note,
  the abstract and the questions' answers), no variant is named best there and the abstract ranks
  no variant on such rows alone; it stays in the aggregate and the probabilities of improvement
  (that no variant costs anything on a solved task is a result; leaving them out would pick tasks
  after seeing the scores), whose notes say what it does there;
- the probabilities of improvement of an experiment, on the final score and on the area under the
  learning curve (the return earned during training), are one Holm family; pairs whose variants
  act with different randomness by design are not compared on the area (it charges exploration);
  where a pair's tasks point opposite ways (``disagreement``), the verdict says its aggregate averages them;
- time to threshold counts unsolved seeds, failed runs included, as censored (median
  only when more than half solved);
- a matrix of seeds x environments keeps the same number of seeds in every environment
  (the stratified bootstrap needs it), and the seeds it drops are recorded and shown;
- every interval shows n, the finished seeds it rests on, and the "not evidence" banner
  counts finished seeds, not planned ones;
- a settings sweep (the ``tune`` experiment) is shown as IQMs with intervals per environment and
  setting, the configuration's choice marked, and no verdict: its few seeds are read, not tested.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import envs
from bench.learn import symptoms
from bench.paper import questions as question_registry
from bench.paper import stats
from bench.paper.text import ALPHA, fmt, interval_text, p_statement, p_text, poi_sentence, poi_verdict
from bench.pipeline.aggregate import failure_kind, same_value
from bench.pipeline.plan import Plan, format_value, load_plan, plan_table

CURVE_POINTS = 40
CURVE_REPLICATES = 300
#: at most this many replicates per P(X > Y) test, and per performance-profile band
POI_REPLICATES = 1000
PROFILE_REPLICATES = 500
SMOOTHING_UPDATES = 3
PROFILE_THRESHOLDS = np.linspace(-0.25, 1.25, 61)
#: below these a run is a smoke or quick run whose numbers are not evidence
EVIDENCE_SEEDS = 5
#: Fewest seeds per cell for a verdict. The p-values are permutation tests, valid at any size, but one
#: task's cannot fall below 2/C(2n, n) (0.10 at 3 seeds, 0.029 at 4: nothing survives a family), and the
#: bootstrap intervals beside them are not calibrated below it (session 6's review).
MIN_TEST_SEEDS = 5
#: A row is at the ceiling when every variant's 95 % interval lies at or above this normalised score
#: (0 = random policy, 1 = target). 0.95 is a solved task by the task's own bar: gymnasium calls
#: CartPole-v1 solved at 475 of 500, 0.947 normalised. Judged on the interval's lower end, not the IQM,
#: so a row is flagged only when no variant may plausibly sit below it; what is left between such
#: variants is less than 5 % of the distance from random to target, which this benchmark does not ask.
CEILING = 0.95
EVIDENCE_BUDGET_SCALE = 1.0

__all__ = ["ALPHA", "fmt", "interval_text", "p_text"]


@dataclass
class Context:
    plan: Plan
    runs: pd.DataFrame  # one row per run (finished or not)
    curves: pd.DataFrame
    membership: pd.DataFrame
    #: the analysis seed (the config's ``bootstrap_seed``)
    seed: int
    #: the pipeline configuration (its ``defaults`` and ``env_settings`` mark a sweep's chosen settings);
    #: None: not given, nothing is marked
    config: dict[str, Any] | None = None

    def rng_for(self, *data: np.ndarray) -> np.random.Generator:
        """The bootstrap's generator for ``data``, seeded by the analysis seed and the arrays' shapes
        alone: which rows a replicate draws depends on nothing else, so the same runs (rows in seed
        order) draw the same resamples, and show the same interval, in every table and on every
        order-preserving scale (a raw cell and its normalised aggregate agree exactly)."""
        shapes = [int(n) for array in data for n in (np.ndim(array), *np.shape(array))]
        return np.random.default_rng([self.seed, *shapes])


def poi_replicates(plan: Plan) -> int:
    """Bootstrap replicates of a P(X > Y) interval: the config's, at most ``POI_REPLICATES`` (each
    replicate recomputes every pairwise comparison of the runs)."""
    return min(plan.bootstrap_replicates, POI_REPLICATES)


def resolution_note(comparisons: int, floor: float) -> str:
    """Empty, or why a Holm family of ``comparisons`` permutation tests cannot reject anything: with the
    seeds it has, a test's p-value is at least ``floor`` (``stats.smallest_p``: every run of one variant
    above every run of the other), so the smallest Holm-adjusted p is ``comparisons * floor``, and at
    ``ALPHA`` or above no verdict can be "better" however far apart the scores are."""
    smallest = comparisons * floor
    if not comparisons or smallest < ALPHA:
        return ""
    return (f"With these seeds a permutation p-value is at least {fmt(floor, 2)} (every run of one variant above "
            f"every run of the other), so after Holm over {comparisons} comparisons none can fall below "
            f"{fmt(min(smallest, 1.0), 2)} ≥ α = {ALPHA:g}: these tests cannot find any difference. More seeds per "
            "cell, or fewer comparisons, would.")


def bootstrap_text(plan: Plan) -> str:
    """How many replicates each kind of interval draws, and where the p-values come from, as the setup states it."""
    return (f"{plan.bootstrap_replicates:,} replicates for the intervals of the tables and aggregates, "
            f"{poi_replicates(plan):,} for the P(X > Y) intervals, "
            f"{PROFILE_REPLICATES} for the performance profiles' bands and {CURVE_REPLICATES} for the learning curves' "
            f"bands. The p-values come from stratified permutation tests (within each task the two variants' runs "
            f"exchanged): every split when there are at most {stats.PERMUTATIONS:,}, else {stats.PERMUTATIONS:,} "
            "drawn; on one task the P(X > Y) test is then the exact Mann-Whitney test")


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["status"] == "finished"]


def experiment_runs(ctx: Context, experiment: str) -> pd.DataFrame:
    """Finished runs of one experiment, with their labels."""
    members = ctx.membership[ctx.membership["experiment"] == experiment][["env", "agent", "variant", "seed", "label"]]
    # The experiment's own label (it names every option the experiment varies).
    return members.merge(finished(ctx.runs).drop(columns="label"), on=["env", "agent", "variant", "seed"], how="inner")


def variant_order(ctx: Context, experiment: str) -> list[str]:
    labels = ctx.membership[ctx.membership["experiment"] == experiment]["label"]
    return list(dict.fromkeys(labels))


def score_matrix(runs: pd.DataFrame, label: str, env_ids: list[str], column: str) -> np.ndarray:
    """``[num_seeds, num_envs]`` of ``column`` for one variant: in each environment its ``num_seeds``
    lowest-numbered finished seeds, ``num_seeds`` the fewest any of ``env_ids`` has.

    The stratified bootstrap (``bench.paper.stats``) resamples a seeds x tasks matrix, so every task
    needs the same number of runs; the extra seeds are dropped by seed number (never by score), and
    :func:`dropped_seeds` records what was dropped so the report can say so. Empty when an
    environment has no finished seed.
    """
    per_env = [runs[(runs["label"] == label) & (runs["env"] == env)].sort_values("seed")[column].to_numpy() for env in env_ids]
    if not per_env or min(len(v) for v in per_env) == 0:
        return np.empty((0, len(env_ids)))
    count = min(len(v) for v in per_env)
    return np.stack([v[:count] for v in per_env], axis=1)


def seed_counts(runs: pd.DataFrame, label: str, env_ids: list[str]) -> dict[str, int]:
    """env -> number of finished seeds of one variant (``runs`` holds finished runs only)."""
    chosen = runs[runs["label"] == label]
    return {env: int((chosen["env"] == env).sum()) for env in env_ids}


def dropped_seeds(runs: pd.DataFrame, labels: list[str], env_ids: list[str], used_for: str) -> dict[str, Any] | None:
    """What :func:`score_matrix` drops from these variants over ``env_ids``; None when nothing is.

    Per variant whose environments have unequal numbers of finished seeds: ``kept`` (seeds per
    environment in its matrix), ``dropped`` (finished seeds left out) and ``short`` (the cells,
    ``{"env", "n"}``, with fewer finished seeds than its fullest environment). ``text`` says so in
    words for the report; ``used_for`` names the statistics the matrices feed.
    """
    variants = []
    for label in labels:
        counts = seed_counts(runs, label, env_ids)
        if not counts or min(counts.values()) == max(counts.values()):
            continue
        kept, most = min(counts.values()), max(counts.values())
        variants.append({"label": label, "kept": kept, "dropped": sum(counts.values()) - kept * len(counts),
                         "short": [{"env": env, "n": n} for env, n in counts.items() if n < most]})
    if not variants:
        return None
    return {"used_for": used_for, "envs": list(env_ids), "dropped": sum(v["dropped"] for v in variants),
            "variants": variants, "text": _dropped_text(variants, used_for)}


def _dropped_text(variants: list[dict[str, Any]], used_for: str) -> str:
    def one(variant: dict[str, Any]) -> str:
        short = ", ".join(f"{cell['env']} has {cell['n']}" for cell in variant["short"])
        if variant["kept"] == 0:
            return f"{variant['label']} is left out ({short}; its other {variant['dropped']} finished seeds are unused)"
        return (f"{variant['label']}: {variant['dropped']} finished seed{'s' if variant['dropped'] != 1 else ''} dropped "
                f"to keep {variant['kept']} per environment ({short})")

    total = sum(v["dropped"] for v in variants)
    return (f"Seeds dropped from {used_for}: {total} finished seed{'s' if total != 1 else ''} left out, because "
            "the stratified bootstrap needs the same number of seeds in every environment of a variant (the "
            "lowest-numbered are kept). " + "; ".join(one(v) for v in variants) + ".")


def floors(ctx: Context) -> dict[str, float]:
    """Per environment: the median over its finished runs of ``initial_score`` (the untrained
    deterministic policy's evaluation score); NaN where no run recorded it (floor not measured)."""
    done = finished(ctx.runs)
    out = {}
    for env in dict.fromkeys(run.env for run in ctx.plan.runs):
        values = done[done["env"] == env]["initial_score"] if "initial_score" in done else pd.Series(dtype=float)
        values = pd.to_numeric(values, errors="coerce").dropna()
        out[env] = float(values.median()) if len(values) else math.nan
    return out


def worse_than_untrained(ctx: Context, runs: pd.DataFrame, label: str, env: str, interval: stats.Interval,
                         floor: float) -> bool:
    """Whether training left ``label``'s policy on ``env`` worse than it started: the 95 % interval of the IQM
    over seeds of each run's final score minus its own untrained score (``initial_score``) lies below 0.

    Paired, run by run: the untrained score varies from run to run (CueRecall's from 0.15 to 0.28 around a
    chance of 0.25, over 32 evaluation episodes), so a cell at chance can sit under the floor, a median over
    every run, without any run having got worse. Where a run did not record its untrained score, the
    cell's ``interval`` is compared with the ``floor`` instead."""
    final = score_matrix(runs, label, [env], "final_score")
    initial = score_matrix(runs, label, [env], "initial_score") if "initial_score" in runs else np.empty(0)
    if len(initial) != len(final) or np.isnan(initial).any():
        return interval.high < floor
    change = final - initial  # [seeds, 1]
    return stats.bootstrap_interval(change, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng_for(change)).high < 0


def floor_text(floor: float) -> str:
    return "floor not measured" if math.isnan(floor) else fmt(floor)


#: A cell's flag when its interval has zero width.
ZERO_WIDTH = "zero-width interval"
#: The verdict of a test that could not reject at its seeds however far apart the variants were.
NOT_TESTABLE = "not testable"


def not_testable_text(seeds: int, reachable_p: float, row: bool = False) -> str:
    """``NOT_TESTABLE`` with why: at ``seeds`` per cell a test's Holm-adjusted p (or every one of a table
    ``row``'s) cannot fall below ``reachable_p`` (Holm of the family at its floors, ``stats.smallest_p``)."""
    what = "no adjusted p of this row can" if row else "its adjusted p cannot"
    return f"{NOT_TESTABLE} (no power at α = {ALPHA:g} with n = {seeds}: {what} fall below {fmt(min(reachable_p, 1.0), 2)})"


def run_curve(ctx: Context, env: str, agent: str, variant: str, seed: int) -> pd.DataFrame:
    """One run's learning curve, one row per update, in update order (empty when none was recorded)."""
    curves = ctx.curves
    return curves[(curves["env"] == env) & (curves["agent"] == agent) & (curves["variant"] == variant)
                  & (curves["seed"] == seed)].sort_values("update")


def collapsed_seeds(ctx: Context, runs: pd.DataFrame, env: str) -> int:
    """How many of ``runs`` (one cell's seeds on ``env``) learned and then lost it (``symptoms.learned_then_lost``
    on their training-return curve). Read from the curves, not the runs' warnings, so a run recorded before the
    warning existed is counted too."""
    return sum(symptoms.learned_then_lost(run_curve(ctx, env, run.agent, run.variant, run.seed)["return_mean"])
               is not None for run in runs.itertuples())


def _cell(ctx: Context, runs: pd.DataFrame, label: str, env: str, floor: float) -> dict[str, Any]:
    """One result cell: IQM of the final score over seeds [95 % CI]; ``no_learning`` when the CI's
    lower end does not clear the floor, and its ``flag`` in words: "no learning", or "below the
    untrained policy" when training left the policy worse than it started (:func:`worse_than_untrained`),
    as a run that learns and then diverges does; or ``ZERO_WIDTH`` when every bootstrap resample gave the
    same IQM; then "training return collapsed in k of n seeds" when any seed's training return rose and
    fell back (``collapsed_seeds``). ``scores`` (dropped before output) for the tests."""
    scores = score_matrix(runs, label, [env], "final_score")
    if len(scores) == 0:
        return {"label": label, "text": "missing", "n": 0, "best": False, "tied": False, "no_learning": False, "flag": ""}
    interval = stats.bootstrap_interval(scores, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng_for(scores))
    no_learning = not math.isnan(floor) and interval.low <= floor
    # An interval of zero width (every resample's IQM the same: seeds alike, as at a cap) shows no spread, not certainty.
    flag = ("below the untrained policy" if no_learning and worse_than_untrained(ctx, runs, label, env, interval, floor)
            else "no learning" if no_learning else ZERO_WIDTH if len(scores) > 1 and interval.low == interval.high else "")
    collapsed = collapsed_seeds(ctx, runs[(runs["env"] == env) & (runs["label"] == label)], env)
    if collapsed:
        flag = "; ".join(filter(None, [flag, f"{symptoms.COLLAPSED} in {collapsed} of {len(scores)} seeds"]))
    return {"label": label, "n": int(len(scores)), **interval.as_dict(), "text": interval_text(interval),
            "best": False, "tied": False, "no_learning": bool(no_learning), "flag": flag, "collapsed": collapsed,
            "scores": scores}


def _row_tests(ctx: Context, cells: list[dict[str, Any]]) -> list[tuple[dict, dict, stats.Test]]:
    """(top, other, test of IQM(top) - IQM(other)) for every other scored cell, runner-up first."""
    ranked = sorted((c for c in cells if c["n"] > 0), key=lambda c: -c["estimate"])
    return [(ranked[0], other, stats.bootstrap_difference(ranked[0]["scores"], other["scores"], stats.iqm,
                                                           ctx.plan.bootstrap_replicates,
                                                           ctx.rng_for(ranked[0]["scores"], other["scores"])))
            for other in ranked[1:]]


def _row_verdict(cells: list[dict[str, Any]], tests: list[tuple[dict, dict, stats.Test]],
                 reachable_p: float = 0.0) -> dict[str, Any]:
    """Mark the best cell (significantly above every other one) or the group that cannot be separated.

    ``reachable_p``: the smallest Holm-adjusted p this row's comparisons can reach at their seeds
    (``results_table``); at ``ALPHA`` or above none can reject, and the verdict says "not testable"
    rather than shading every cell as tied: the seeds decided it, not the data.
    """
    scored = [c for c in cells if c["n"] > 0]
    if len(scored) < 2:
        return {"best": None, "group": [c["label"] for c in scored], "verdict": "one variant only" if scored else "no runs"}
    if min(c["n"] for c in scored) < MIN_TEST_SEEDS:
        return {"best": None, "group": [c["label"] for c in scored],
                "verdict": f"too few seeds to tell (n = {min(c['n'] for c in scored)}; a test needs {MIN_TEST_SEEDS})"}
    top = tests[0][0]
    group = [top] + [other for _, other, test in tests if not test.adjusted_p < ALPHA]
    runner_up, first = tests[0][1], tests[0][2]
    numbers = (f"IQM difference to the runner-up {runner_up['label']} = {interval_text(first)}, "
               f"{p_statement(first)}")
    if reachable_p >= ALPHA:
        return {"best": None, "group": [], "verdict": (
            f"{not_testable_text(min(c['n'] for c in scored), reachable_p, row=True)}; {numbers}")}
    if len(group) == 1:
        top["best"] = True
        return {"best": top["label"], "group": [top["label"]], "verdict": f"best: {top['label']} ({numbers})"}
    for cell in group:
        cell["tied"] = True
    names = ", ".join(c["label"] for c in group)
    return {"best": None, "group": [c["label"] for c in group], "verdict": f"cannot be separated: {names} ({numbers})"}


def results_table(ctx: Context, experiment: str, env_floors: dict[str, float] | None = None) -> dict[str, Any]:
    """Environment rows x variant columns: IQM of the final score [95 % CI].

    Best and tied come from tests of the IQM difference between each row's top variant
    and every other one (stratified permutation p, bootstrap interval), Holm-adjusted over the whole table.
    A row none of whose comparisons can reject at its seeds (each test at the smallest p it can reach,
    Holm-adjusted, at ``ALPHA`` or above) says "not testable" and shades nothing; a table where that holds
    of every comparison (``testable`` False; ``smallest_adjusted_p``, the number of comparisons times the
    smallest floor) says why in ``resolution_note``.
    A row where no cell clears the floor is ``uninformative``; a row where every cell's interval is at
    the ceiling (:func:`at_ceiling`) is ``ceiling``, with ``ceiling_note`` saying so and no best named.
    """
    env_floors = floors(ctx) if env_floors is None else env_floors
    runs = experiment_runs(ctx, experiment)
    labels = variant_order(ctx, experiment)
    rows = []
    for env in ctx.plan.experiments[experiment]["envs"]:
        floor = env_floors.get(env, math.nan)
        cells = [_cell(ctx, runs, label, env, floor) for label in labels]
        tests = _row_tests(ctx, cells)
        # In the family: the comparisons of a row that gives a verdict (under MIN_TEST_SEEDS it says "too few
        # seeds" and spends no share of alpha).
        tested = bool(tests) and min(c["n"] for c in cells if c["n"] > 0) >= MIN_TEST_SEEDS
        rows.append({"env": env, "floor": floor, "floor_text": floor_text(floor), "cells": cells, "tests": tests,
                     "tested": tested})
    family = [test for row in rows if row["tested"] for test in row["tests"]]
    adjusted = stats.with_holm([test for _, _, test in family])
    # The smallest Holm-adjusted p each comparison can reach at its seeds: Holm is monotone in every raw p,
    # so it is Holm of every test at its floor (stats.smallest_p: one variant's runs all above the other's).
    p_floors = [stats.smallest_p(top["n"], other["n"], 1, stats.iqm) for top, other, _ in family]
    reachable = stats.holm(p_floors) if family else []
    smallest_adjusted_p = float(min(reachable, default=0.0))
    offset = 0
    for row in rows:
        if row.pop("tested"):
            count = len(row["tests"])
            row["tests"] = [(top, other, test) for (top, other, _), test
                            in zip(row["tests"], adjusted[offset:offset + count])]
            row.update(_row_verdict(row["cells"], row.pop("tests"), float(min(reachable[offset:offset + count]))))
            offset += count
        else:  # too few seeds, or fewer than two variants: the verdict says so
            row.update(_row_verdict(row["cells"], row.pop("tests")))
        scored = [c for c in row["cells"] if c["n"] > 0]
        row["uninformative"] = bool(scored) and all(c["no_learning"] for c in scored)
        # A trivial task's floor may sit at the ceiling too: "uninformative" (left out of the aggregate) says more.
        row["ceiling"] = not row["uninformative"] and at_ceiling(row["env"], scored)
        row["ceiling_note"] = (f"every variant at the ceiling (normalised ≥ {CEILING:g}): a difference here is under "
                               f"{1 - CEILING:.0%} of the distance from random to target, not counted as a finding"
                               ) if row["ceiling"] else ""
        if row["ceiling"] and row["best"] is not None:
            # Significant, but a difference within 5 % of random-to-target is no finding: not bold, not "best".
            for cell in scored:
                cell["best"] = False
            row["verdict"] = "highest, not named best at the ceiling: " + row["verdict"].removeprefix("best: ")
            row["best"] = None
        for cell in row["cells"]:
            cell.pop("scores", None)
    return {"labels": labels, "rows": rows, "comparisons": len(family), **seed_count_texts(rows),
            "testable": smallest_adjusted_p < ALPHA, "smallest_adjusted_p": min(smallest_adjusted_p, 1.0),
            "resolution_note": resolution_note(len(family), min(p_floors, default=0.0))}


def at_ceiling(env: str, cells: list[dict[str, Any]]) -> bool:
    """Whether every one of ``cells`` (the scored cells of one row, two or more) has its interval's
    lower end at or above ``CEILING`` on the normalised scale (the map is affine: :func:`_normalised_cell`).
    False for an environment without reference scores (nothing to normalise by) and for a single
    variant (there is nothing to separate)."""
    spec = envs.spec_for(env)
    if math.isnan(spec.random_score) or len(cells) < 2:
        return False
    return all(_normalised_cell(cell, spec)["low"] >= CEILING for cell in cells)


def seed_count_texts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the table shows n (finished seeds each interval rests on), set as ``n_text`` strings.

    Once per column (``column_n_text``, aligned with the labels) when every column has one n,
    else once per row (``row["n_text"]``) when every row has one n, else in every cell
    (``cell["n_text"]``); the other places get "". Returns ``{"n_layout", "column_n_text"}``.
    """
    columns = [{row["cells"][i]["n"] for row in rows} for i in range(len(rows[0]["cells"]))] if rows else []
    layout = ("column" if all(len(c) == 1 for c in columns)
              else "row" if all(len({cell["n"] for cell in row["cells"]}) == 1 for row in rows) else "cell")
    for row in rows:
        row["n_text"] = f"n = {row['cells'][0]['n']}" if layout == "row" and row["cells"] else ""
        for cell in row["cells"]:
            cell["n_text"] = f"n = {cell['n']}" if layout == "cell" else ""
    column_n = [f"n = {next(iter(c))}" if layout == "column" else "" for c in columns]
    return {"n_layout": layout, "column_n_text": column_n}


def aggregate_scores(ctx: Context, experiment: str, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """IQM, median and mean of normalised final scores across environments, per variant
    (environments in ``exclude``, the uninformative ones, left out)."""
    runs = experiment_runs(ctx, experiment)
    env_ids = normalisable_envs(ctx, experiment, exclude)
    out = []
    for label in variant_order(ctx, experiment):
        scores = score_matrix(runs, label, env_ids, "normalised_score")
        if len(scores) == 0 or not env_ids:
            continue
        entry: dict[str, Any] = {"label": label, "seeds": int(len(scores))}
        for name, statistic in stats.STATISTICS.items():
            interval = stats.bootstrap_interval(scores, statistic, ctx.plan.bootstrap_replicates, ctx.rng_for(scores))
            entry[name] = {**interval.as_dict(), "text": interval_text(interval)}
        out.append(entry)
    return out


def normalisable_envs(ctx: Context, experiment: str, exclude: tuple[str, ...] = ()) -> list[str]:
    """The experiment's environments with reference scores, less ``exclude``."""
    return [e for e in ctx.plan.experiments[experiment]["envs"]
            if not math.isnan(envs.spec_for(e).random_score) and e not in exclude]


def ablation_pairs(ctx: Context, experiment: str) -> list[tuple[str, str]]:
    """(x, y) label pairs to compare: from ``pairs`` in the config, each variant vs the same
    agent with the ``reference`` option values (everything else equal), and each agent vs
    ``reference_agent`` with the same options. A pair given both ways is compared once."""
    spec = ctx.plan.experiments[experiment]
    labels = variant_order(ctx, experiment)
    pairs = [tuple(p) for p in spec.get("pairs", [])]
    reference = spec.get("reference", {})
    if reference:
        members = ctx.membership[ctx.membership["experiment"] == experiment].drop_duplicates("label")
        keys = sorted({*reference, *spec.get("options", {})})

        def settings(row: pd.Series) -> dict[str, Any]:
            options = json.loads(row["options"])
            return {key: options.get(key, _default(key)) for key in keys}

        by_settings = {(row["agent"], json.dumps(settings(row), sort_keys=True)): row["label"] for _, row in members.iterrows()}
        for _, x in members.iterrows():
            x_settings = settings(x)
            target = {**x_settings, **reference}
            if target == x_settings:
                continue  # x is itself the reference
            y = by_settings.get((x["agent"], json.dumps(target, sort_keys=True)))
            if y is not None:
                pairs.append((x["label"], y))
    reference_agent = spec.get("reference_agent")
    if reference_agent is not None:
        # Every other agent against the reference agent with the same option values.
        members = ctx.membership[ctx.membership["experiment"] == experiment].drop_duplicates("label")
        by_options = {(row["agent"], row["options"]): row["label"] for _, row in members.iterrows()}
        for _, x in members.iterrows():
            y = by_options.get((reference_agent, x["options"]))
            if x["agent"] != reference_agent and y is not None:
                pairs.append((x["label"], y))
    unique: list[tuple[str, str]] = []
    for pair in pairs:  # the first of (x, y) and (y, x) is kept: an explicit pair wins
        if pair not in unique and pair[::-1] not in unique:
            unique.append(pair)
    return [p for p in unique if p[0] in labels and p[1] in labels]


def _default(name: str) -> Any:
    from bench.learn.config import RunConfig

    return getattr(RunConfig(), name)


#: The runs-table column of the area under a run's learning curve, normalised (``bench.pipeline.aggregate.
#: learning_curve_area``); absent from the tables of older aggregates.
LEARNING_AREA = "normalised_learning_area"


def too_few_text(estimate: float, seeds: int) -> str:
    """What a P(X > Y) from under ``MIN_TEST_SEEDS`` seeds says: its point estimate, and that it tests nothing."""
    return (f"too few seeds to tell, P(X > Y) = {fmt(estimate)} from {seeds} seed{'' if seeds == 1 else 's'} "
            f"(a test needs {MIN_TEST_SEEDS})")


def _pair_entry(test: stats.Test, seeds: int, reachable_p: float = 0.0) -> dict[str, Any]:
    """One P(X > Y) test as the report shows it: numbers, verdict and the sentence that gives both.
    ``reachable_p``: the smallest Holm-adjusted p the test can reach at its seeds (``improvements``)."""
    if seeds < MIN_TEST_SEEDS:
        verdict = "too few seeds to tell"
        sentence = too_few_text(test.estimate, seeds)
    elif reachable_p >= ALPHA:
        verdict = NOT_TESTABLE
        sentence = f"{not_testable_text(seeds, reachable_p)}, P(X > Y) = {interval_text(test)}, {p_statement(test)}"
    else:
        verdict = poi_verdict(test)
        sentence = poi_sentence(verdict, test)
    return {"estimate": test.estimate, "low": test.low, "high": test.high, "p_value": test.p_value,
            "adjusted_p": test.adjusted_p, "text": interval_text(test), "verdict": verdict, "sentence": sentence}


def per_task_text(values: list[float], env_ids: list[str], tags: dict[str, str]) -> str:
    """``per task: CartPole-v1 0.95, GaussianTarget 1.00 (final scores at the ceiling)``: the point
    P(X > Y) on each task (:func:`per_task_values`), with ``tags`` said after a task's value.
    The test averages these: this says which tasks carry it (a consistent gap counts however small)."""
    parts = [f"{env} {fmt(value)}" + (f" ({tags[env]})" if env in tags else "")
             for env, value in zip(env_ids, values)]
    return "per task: " + ", ".join(parts)


def per_task_values(x: np.ndarray, y: np.ndarray) -> list[float]:
    """The point P(X > Y) on each task (column) of ``x``, ``y`` (``[seeds, tasks]``)."""
    return [stats.probability_of_improvement(x[:, [task]], y[:, [task]]) for task in range(x.shape[1])]


#: A task where the point P(X > Y) is at most this favours Y on nearly every pair of runs; at least 1 - it,
#: X. Strict on purpose: with 5 seeds per cell a task with no difference falls at or beyond 0.25 one time in
#: nine on each side (28 of the 252 equally likely orderings), at or beyond 0.1 one time in 63 (4 of 252).
OPPOSITE = 0.1


def disagreement(x_label: str, y_label: str, env_ids: list[str], values: list[float], skip: set[str]) -> str:
    """"" or, when some tasks favour X and others Y (point P(X > Y) <= ``OPPOSITE`` on one task and
    >= 1 - ``OPPOSITE`` on another, ``skip`` left out), a clause saying the aggregate averages them.

    P(X > Y) over tasks is the mean of the per-task figures (Agarwal et al. 2021), so a variant that wins
    one kind of task and loses another can come out "better" or "no clear difference" overall; the
    per-task figures are point estimates, read, not tested. Each side is given as its own win probability.
    """
    kept = [(env, value) for env, value in zip(env_ids, values) if env not in skip]
    ahead_x = [(env, value) for env, value in kept if value >= 1 - OPPOSITE]
    ahead_y = [(env, 1 - value) for env, value in kept if value <= OPPOSITE]
    if not (ahead_x and ahead_y):
        return ""

    def side(winner: str, loser: str, tasks: list[tuple[str, float]]) -> str:
        return (f"{winner} ahead on {', '.join(env for env, _ in tasks)} "
                f"(P({winner} > {loser}) {', '.join(fmt(value) for _, value in tasks)})")

    return (f"the tasks point opposite ways, and the aggregate averages them: {side(x_label, y_label, ahead_x)}, "
            f"{side(y_label, x_label, ahead_y)} (per-task point estimates, not tested)")


def pair_tags(table: dict[str, Any] | None, x: str, y: str) -> dict[str, str]:
    """Per environment of a results ``table``, what limits a pair's comparison there: every variant's
    final score at the ceiling, or neither of ``x``, ``y`` learning (both cells under the floor)."""
    tags: dict[str, str] = {}
    for row in (table or {}).get("rows", []):
        cells = {cell["label"]: cell for cell in row["cells"]}
        if row.get("ceiling"):
            tags[row["env"]] = "final scores at the ceiling"
        elif all(cells.get(label, {}).get("no_learning") for label in (x, y)):
            tags[row["env"]] = "neither learns"
    return tags


#: Options that set by design how randomly a policy acts. The learning curve is the training return, of
#: sampled actions, so a variant that acts more randomly earns less there for its exploration alone:
#: a pair that differs in one of these is not compared on the area under the learning curve.
EXPLORATION_OPTIONS = ("entropy_coef", "std_mode", "init_std")


def _label_options(ctx: Context, experiment: str) -> dict[str, dict[str, Any]]:
    members = ctx.membership[ctx.membership["experiment"] == experiment].drop_duplicates("label")
    return {row["label"]: json.loads(row["options"]) for _, row in members.iterrows()}


def _exploration_difference(options: dict[str, dict[str, Any]], x: str, y: str) -> list[str]:
    """The ``EXPLORATION_OPTIONS`` in which labels ``x`` and ``y`` differ."""
    return [key for key in EXPLORATION_OPTIONS
            if options.get(x, {}).get(key, _default(key)) != options.get(y, {}).get(key, _default(key))]


def learning_areas(runs: pd.DataFrame, options: dict[str, dict[str, Any]], x: str, y: str, env_ids: list[str]
                   ) -> tuple[tuple[np.ndarray, np.ndarray] | None, str, list[str]]:
    """The ``[seeds, tasks]`` area matrices of ``x`` and ``y``, or None with why they are not compared:
    ``"exploration"`` (the ``EXPLORATION_OPTIONS`` they differ in, third value) or ``"not recorded"``
    (a run without the column or with NaN: tables aggregated before the measure existed)."""
    differing = _exploration_difference(options, x, y)
    if differing:
        return None, "exploration", differing
    if LEARNING_AREA not in runs:
        return None, "not recorded", []
    areas = score_matrix(runs, x, env_ids, LEARNING_AREA), score_matrix(runs, y, env_ids, LEARNING_AREA)
    if not all(len(a) for a in areas) or any(np.isnan(a).any() for a in areas):
        return None, "not recorded", []
    return areas, "", []


def improvements(ctx: Context, experiment: str, exclude: tuple[str, ...] = (),
                 table: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Probability of improvement P(x > y) per pair on normalised final scores and, under ``learning_area``,
    on the normalised area under the learning curve, each with a permutation p-value of P = 0.5.

    Every test of the experiment, both measures, is one Holm family, so a claim on either keeps the
    experiment's error rate. A pair gets no area test (``learning_area`` None, ``learning_area_note``
    saying why, ``learning_area_reason`` "exploration" or "not recorded") when its variants act with different randomness by design (``EXPLORATION_OPTIONS``)
    or when a run of it has no recorded area (tables aggregated before it was). Each measure's
    ``per_task`` text gives its P(X > Y) per task, tagged from the results ``table`` (:func:`pair_tags`).
    """
    runs = experiment_runs(ctx, experiment)
    env_ids = normalisable_envs(ctx, experiment, exclude)
    options = _label_options(ctx, experiment)
    pairs, tests = [], []
    for x, y in ablation_pairs(ctx, experiment) if env_ids else []:
        x_scores, y_scores = score_matrix(runs, x, env_ids, "normalised_score"), score_matrix(runs, y, env_ids, "normalised_score")
        if not (len(x_scores) and len(y_scores)):
            continue
        found = [(stats.probability_of_improvement_test(x_scores, y_scores, poi_replicates(ctx.plan),
                                                        ctx.rng_for(x_scores, y_scores)),
                  min(len(x_scores), len(y_scores)), stats.smallest_p(len(x_scores), len(y_scores), len(env_ids)))]
        areas, reason, differing = learning_areas(runs, options, x, y, env_ids)
        if reason == "exploration":
            note = (f"not compared: {x} and {y} act with different randomness by design ({', '.join(differing)}), "
                    "and the training return charges the more random one for its exploration")
        elif reason:
            note = "not recorded for every run of this pair (tables aggregated before the measure existed)"
        else:
            note = ""
            x_area, y_area = areas
            found.append((stats.probability_of_improvement_test(x_area, y_area, poi_replicates(ctx.plan),
                                                                ctx.rng_for(x_area, y_area)),
                          min(len(x_area), len(y_area)), stats.smallest_p(len(x_area), len(y_area), len(env_ids))))
        tags = pair_tags(table, x, y)
        # A task where neither learns says nothing on either measure; one where both end at the ceiling
        # (its whole row, or this pair's two cells), nothing on the final score, while the area can still
        # tell how fast each got there.
        neither = {env for env, tag in tags.items() if tag == "neither learns"}
        both_solved = {env for task, env in enumerate(env_ids)
                       if min(x_scores[:, task].mean(), y_scores[:, task].mean()) >= CEILING}
        values = per_task_values(x_scores, y_scores)
        texts = [(per_task_text(values, env_ids, tags), disagreement(x, y, env_ids, values, set(tags) | both_solved))]
        if not note:
            values = per_task_values(x_area, y_area)
            texts.append((per_task_text(values, env_ids, tags), disagreement(x, y, env_ids, values, neither)))
        pairs.append((x, y, len(x_scores), len(y_scores), note, reason, texts))
        tests.extend(found)
    # The Holm family: the tests with enough seeds to give a verdict (the others say "too few seeds" and spend no
    # alpha, as in the results tables). Holm is monotone in every raw p, so each test's smallest reachable
    # adjusted p is Holm of the family at its floors.
    family = [i for i, (_, n, _) in enumerate(tests) if n >= MIN_TEST_SEEDS]
    adjusted, reachable = [test for test, _, _ in tests], [1.0] * len(tests)
    for i, test, floor in zip(family, stats.with_holm([tests[i][0] for i in family]),
                              stats.holm([tests[i][2] for i in family]) if family else []):
        adjusted[i], reachable[i] = test, floor
    entries = iter(zip(adjusted, (n for _, n, _ in tests), reachable, (floor for _, _, floor in tests)))
    out = []
    for x, y, n_x, n_y, note, reason, texts in pairs:
        test, n, reach, floor = next(entries)
        final = {**_pair_entry(test, n, reach), "per_task": texts[0][0], "disagreement": texts[0][1],
                 "p_floor": floor, "in_family": n >= MIN_TEST_SEEDS}
        area = None
        if not note:
            test, n, reach, _ = next(entries)
            area = {**_pair_entry(test, n, reach), "per_task": texts[1][0], "disagreement": texts[1][1]}
        out.append({"x": x, "y": y, **final, "n_x": n_x, "n_y": n_y, "n_text": f"{n_x}, {n_y}",
                    "learning_area": area, "learning_area_note": note, "learning_area_reason": reason})
    return out


def improvements_note(pairs: list[dict[str, Any]]) -> str:
    """``resolution_note`` of an experiment's ablation pairs (``improvements``): its Holm family's size and floor."""
    family = [p for p in pairs if p["in_family"]]
    return resolution_note(sum(1 + (p["learning_area"] is not None) for p in family),
                           min((p["p_floor"] for p in family), default=0.0))


def _iqm_along_seeds(values: np.ndarray) -> np.ndarray:
    """IQM along axis -2 (seeds) of ``[..., seeds, points]``."""
    ordered = np.sort(values, axis=-2)
    n = values.shape[-2]
    cut = int(math.floor(0.25 * n))
    return ordered[..., cut : n - cut, :].mean(axis=-2)


def smoothed_curve(curve: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    values = curve[column].rolling(SMOOTHING_UPDATES, min_periods=1).mean().to_numpy()
    return curve["env_steps"].to_numpy(), values


def curve_summary(ctx: Context) -> pd.DataFrame:
    """IQM learning curves with pointwise bootstrap bands, per (experiment, env, variant)."""
    rows = []
    for experiment in ctx.plan.experiments:
        runs = experiment_runs(ctx, experiment)
        for env in ctx.plan.experiments[experiment]["envs"]:
            grid = np.linspace(0, ctx.plan.steps_for(env), CURVE_POINTS + 1)[1:]
            for label in variant_order(ctx, experiment):
                chosen = runs[(runs["env"] == env) & (runs["label"] == label)]
                series = []
                for _, run in chosen.iterrows():
                    curve = run_curve(ctx, env, run["agent"], run["variant"], run["seed"])
                    if len(curve) == 0:
                        continue
                    steps, values = smoothed_curve(curve, "return_mean")
                    # The value known at each grid step: the latest update at or before it.
                    index = np.clip(np.searchsorted(steps, grid, side="right") - 1, 0, len(steps) - 1)
                    series.append(values[index])
                if not series:
                    continue
                matrix = np.stack(series)  # [seeds, points]
                estimate = _iqm_along_seeds(matrix[None])[0]
                if len(series) >= 2:
                    picks = ctx.rng_for(matrix).integers(0, len(series), size=(CURVE_REPLICATES, len(series)))
                    boot = _iqm_along_seeds(matrix[picks])
                    low, high = np.percentile(boot, [2.5, 97.5], axis=0)
                else:
                    low = high = estimate
                for i, step in enumerate(grid):
                    rows.append({"experiment": experiment, "env": env, "label": label, "env_steps": float(step),
                                 "iqm": float(estimate[i]), "low": float(low[i]), "high": float(high[i])})
    return pd.DataFrame(rows, columns=["experiment", "env", "label", "env_steps", "iqm", "low", "high"])


def profiles(ctx: Context) -> pd.DataFrame:
    """Performance profiles (fraction of runs above each normalised score) per experiment and variant."""
    rows = []
    for experiment in ctx.plan.experiments:
        runs = experiment_runs(ctx, experiment)
        env_ids = normalisable_envs(ctx, experiment)
        for label in variant_order(ctx, experiment):
            scores = score_matrix(runs, label, env_ids, "normalised_score")
            if len(scores) == 0:
                continue
            estimate, low, high = stats.performance_profile_band(scores, PROFILE_THRESHOLDS, PROFILE_REPLICATES,
                                                                 ctx.rng_for(scores))
            for tau, e, lo, hi in zip(PROFILE_THRESHOLDS, estimate, low, high):
                rows.append({"experiment": experiment, "label": label, "tau": float(tau), "fraction": float(e),
                             "low": float(lo), "high": float(hi)})
    return pd.DataFrame(rows, columns=["experiment", "label", "tau", "fraction", "low", "high"])


#: statuses of a run that was trained and ended without reaching the end of its budget: a diverged
#: one (``failure``, bench.pipeline.aggregate) is an unsolved seed of its cell in a solve-time summary,
#: not a dropped one; a crash (an exception, a lost job) says nothing about learning and is left out.
CENSORED_STATUSES = ("failed",)


def attempted(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs and diverged ones (``missing`` runs never ran, crashed ones say nothing about
    learning: neither is a seed of any solve-time summary)."""
    # Runs tables written before the ``failure`` column existed: read from the reason, as aggregate does.
    kind = runs["failure"] if "failure" in runs else runs["reason"].fillna("").map(lambda r: failure_kind({}, r))
    diverged = runs["status"].isin(CENSORED_STATUSES) & (kind == "diverged")
    return runs[(runs["status"] == "finished") | diverged]


def time_to_threshold(ctx: Context) -> list[dict[str, Any]]:
    """Steps and wall-clock until the smoothed training return reaches the solve threshold.

    A failed run counts as a seed that never solved (censored): dropping it would make the
    fraction solved, and the censored median, look better exactly when a variant diverges.
    """
    out = []
    for (env, label), group in attempted(ctx.runs).groupby(["env", "label"], sort=False):
        spec = envs.spec_for(env)
        if math.isnan(spec.random_score):
            continue
        threshold = spec.random_score + ctx.plan.solve_fraction * (spec.target_score - spec.random_score)
        steps_needed, seconds_needed = [], []  # NaN: never reached within the budget (censored)
        for _, run in group.iterrows():
            if run["status"] != "finished":
                steps_needed.append(math.nan)
                seconds_needed.append(math.nan)
                continue
            curve = run_curve(ctx, env, run["agent"], run["variant"], run["seed"])
            steps, values = smoothed_curve(curve, "return_mean")
            steps_needed.append(stats.first_crossing(steps, values, threshold))
            seconds_needed.append(stats.first_crossing(curve["wall_time"].to_numpy(), values, threshold))
        failed = int((group["status"] != "finished").sum())
        out.append({"env": env, "label": label, "threshold": threshold,
                    **censored_times(steps_needed, seconds_needed, failed)})
    return out


def censored_times(steps_needed: list[float], seconds_needed: list[float], failed: int = 0) -> dict[str, Any]:
    """Fraction of seeds solved; median steps and seconds with unsolved seeds censored
    (reported only when more than half of the seeds solved). ``failed`` of the seeds (already NaN
    in the lists) are failed runs, named in ``solved_text``."""
    seeds = len(steps_needed)
    solved = int(sum(not math.isnan(s) for s in steps_needed))
    median_steps = stats.censored_median(np.array(steps_needed, float))
    median_seconds = stats.censored_median(np.array(seconds_needed, float))
    unsolved = f"not reached by more than half of the seeds ({solved}/{seeds})"
    solved_text = f"{solved}/{seeds}" + (f" ({failed} failed, counted unsolved)" if failed else "")
    return {"seeds": seeds, "solved": solved, "failed": failed, "fraction_solved": solved / seeds if seeds else math.nan,
            "solved_text": solved_text, "median_steps": median_steps, "median_seconds": median_seconds,
            "median_steps_text": unsolved if math.isnan(median_steps) else fmt(median_steps),
            # Undefined for the same reason as the steps, which say why once per row.
            "median_seconds_text": "–" if math.isnan(median_seconds) else fmt(median_seconds)}


def compute_costs(ctx: Context) -> list[dict[str, Any]]:
    """Per agent: steps per second, wall-clock and peak memory of its training jobs."""
    out = []
    done = finished(ctx.runs)
    for agent, group in done.groupby("agent"):
        out.append({
            "agent": agent, "runs": int(len(group)), "parameters": int(group["parameters"].median()),
            "steps_per_second": float(group["steps_per_second"].median()),
            "wall_seconds": float(group["wall_seconds"].median()),
            # Wall-clock of the whole job (interpreter start included) from Snakemake's
            # benchmark file; jobs are single-threaded, so this is their CPU time. (The
            # file's own cpu_time is sampled every 30 s and undercounts short jobs.)
            "total_cpu_hours": float(group["bench_seconds"].sum() / 3600),
            "max_rss_mb": float(group["max_rss_mb"].max()) if group["max_rss_mb"].notna().any() else math.nan,
        })
    for row in out:
        row.update({k + "_text": fmt(row[k]) for k in ("steps_per_second", "wall_seconds", "max_rss_mb", "total_cpu_hours")})
    return out


def speed_ratio(ctx: Context, numerator: str, denominator: str) -> dict[str, Any] | None:
    """Median over shared (env, variant, seed) runs of steps/s(numerator) / steps/s(denominator)."""
    done = finished(ctx.runs)
    a = done[done["agent"] == numerator].set_index(["env", "variant", "seed"])["steps_per_second"]
    b = done[done["agent"] == denominator].set_index(["env", "variant", "seed"])["steps_per_second"]
    shared = a.index.intersection(b.index)
    if len(shared) == 0:
        return None
    ratios = (a[shared] / b[shared]).to_numpy(dtype=float)
    ratio = float(np.median(ratios))
    # Steps/s of a run depend on its episode lengths and on what else the machine ran: the spread
    # over pairs says how far one median can be read.
    spread = "" if len(ratios) < 2 else f"; single pairs from {fmt(ratios.min())} to {fmt(ratios.max())}"
    return {"numerator": numerator, "denominator": denominator, "ratio": ratio, "pairs": int(len(shared)),
            "low": float(ratios.min()), "high": float(ratios.max()), "text": fmt(ratio),
            "pairs_text": f"median over {len(shared)} paired run{'s' if len(shared) > 1 else ''}{spread}"}


def bandit_results(ctx: Context) -> list[dict[str, Any]]:
    """Accuracy on the one-step tasks (finished runs), and the samples needed to reach 90 % training
    accuracy (failed runs counted as never reaching it, censored).

    The runs are mlp's in an experiment that varies no option (its label is the agent's name alone):
    they train with the configuration's own settings, ``env_settings`` and a profile's ``options``
    included, so their variant is not always ``default`` (DigitMatch's is ``num_envs=64``)."""
    out = []
    plain = ctx.membership[(ctx.membership["agent"] == "mlp") & (ctx.membership["label"] == "mlp")]
    keys = ["env", "agent", "variant", "seed"]
    default_runs = attempted(ctx.runs).merge(plain[keys].drop_duplicates(), on=keys, how="inner")
    for env in ("DigitMatch-10", "DigitMatch-100", "GaussianTarget"):
        tried = default_runs[default_runs["env"] == env]
        group = finished(tried)
        if len(group) == 0:
            continue
        failed = len(tried) - len(group)  # censored: never reached 90 %
        final_accuracy = group["final_success_rate"].to_numpy()
        accuracy = stats.bootstrap_interval(final_accuracy, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng_for(final_accuracy))
        samples = []
        for _, run in group.iterrows():
            curve = run_curve(ctx, env, "mlp", run["variant"], run["seed"])
            steps, success = smoothed_curve(curve, "success_rate")
            samples.append(stats.first_crossing(steps, success, 0.9))
        samples += [math.nan] * failed
        times = censored_times(samples, samples, failed)
        entry = {"env": env, "seeds": int(len(group)), "accuracy": accuracy.as_dict(), "accuracy_text": interval_text(accuracy),
                 "samples": int(group["env_steps"].median()), "reached_90": times["solved"],
                 "solve_seeds": times["seeds"], "reached_90_text": times["solved_text"],
                 "samples_to_90": times["median_steps"], "samples_to_90_text": times["median_steps_text"]}
        if env == "GaussianTarget":
            # A success there is an action within sqrt(-success_score) of the target (return = -(a - 3)^2).
            entry["accuracy_text"] += f" (|a − 3| ≤ {fmt(math.sqrt(-envs.spec_for(env).success_score), 1)})"
            distance = np.sqrt(np.clip(-group["final_score"].to_numpy(), 0, None))
            entry["distance_text"] = interval_text(stats.bootstrap_interval(distance, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng_for(distance)))
        out.append(entry)
    return out


def missing_runs(ctx: Context) -> list[dict[str, Any]]:
    bad = ctx.runs[ctx.runs["status"] != "finished"]
    return [{"run": f"{r.env}/{r.label}/seed{r.seed}", "status": r.status, "reason": r.reason} for r in bad.itertuples()]


def run_warnings(ctx: Context) -> list[dict[str, Any]]:
    """Finished runs whose training recorded a degenerate symptom (``warnings`` in ``run.json``):
    their numbers are in the tables, and the reader should know why they may be low."""
    if "warnings" not in ctx.runs:
        return []
    flagged = ctx.runs[(ctx.runs["status"] == "finished") & (ctx.runs["warnings"].fillna("") != "")]
    return [{"run": f"{r.env}/{r.label}/seed{r.seed}", "warnings": r.warnings} for r in flagged.itertuples()]


def doctor_summary(rows: list[dict[str, str]]) -> dict[str, Any]:
    """The gradient doctor's failures (status FAIL), and one line per agent: checks passed,
    failed and not applicable (``n/a``, e.g. a reset check of a memoryless agent)."""
    failures = [row for row in rows if row.get("status") == "FAIL"]
    agents = []
    for agent in dict.fromkeys(row.get("agent", "") for row in rows):
        mine = [row.get("status") for row in rows if row.get("agent", "") == agent]
        failed, skipped = mine.count("FAIL"), mine.count("n/a")
        applicable = len(mine) - skipped
        text = f"all {applicable} checks passed" if not failed else f"{failed} of {applicable} checks failed"
        if skipped:
            text += f" ({skipped} not applicable)"
        agents.append({"agent": agent, "checks": applicable, "skipped": skipped, "failed": int(failed), "text": text})
    # The count the section states is the one the per-agent lines add up to: applicable checks.
    applicable, skipped = sum(a["checks"] for a in agents), sum(a["skipped"] for a in agents)
    total = (f"{applicable} applicable check{'s' if applicable != 1 else ''}"
             + (f" ({skipped} not applicable)" if skipped else ""))
    return {"failures": failures, "agents": agents, "checks": applicable, "checks_text": total}


def fewest_finished(plan: Plan, runs: pd.DataFrame) -> tuple[int, str]:
    """The smallest number of finished seeds of any planned cell (env, agent, variant), and that
    cell as ``env / label (experiment)`` for each experiment it belongs to, named as that experiment's
    table names it; a cell none of whose runs finished counts 0."""
    names: dict[tuple[str, str, str], list[str]] = {}
    for row in plan_table(plan):
        shown = f"{row['label']} ({row['experiment']})"
        cell = names.setdefault((row["env"], row["agent"], row["variant"]), [])
        if shown not in cell:
            cell.append(shown)
    done = finished(runs).groupby(["env", "agent", "variant"]).size()
    counts = {cell: int(done.get(cell, 0)) for cell in names}
    if not counts:
        return 0, "no planned cell"
    cell = min(counts, key=counts.get)  # the first sparsest, in plan order
    return counts[cell], f"{cell[0]} / {', '.join(names[cell])}"


def caveat(plan: Plan, runs: pd.DataFrame) -> str:
    """A warning for the top of the report when the run is too small to be evidence; empty otherwise.

    Counts finished seeds, not planned ones: a 10-seed profile where most runs of a cell failed
    rests on the few that finished, and its intervals are as weak as a smoke run's.
    """
    planned = len(plan.seeds)
    fewest, cell = fewest_finished(plan, runs)
    reasons = []
    if fewest < EVIDENCE_SEEDS:
        reasons.append(f"{planned} seeds per cell, all finished (fewer than {EVIDENCE_SEEDS})" if fewest == planned else
                       f"only {fewest} of {planned} planned seeds (fewer than {EVIDENCE_SEEDS}) finished in {cell}")
    if plan.budget_scale < EVIDENCE_BUDGET_SCALE:
        reasons.append(f"budget scale {plan.budget_scale:g} (the full budgets are scale {EVIDENCE_BUDGET_SCALE:g})")
    if not reasons:
        return ""
    if plan.budget_scale >= EVIDENCE_BUDGET_SCALE and planned < EVIDENCE_SEEDS:
        return (f"Too few seeds to test (profile {plan.profile}: {' and '.join(reasons)}), at full budgets. "
                "Its intervals can be read, but no difference is tested; its numbers are not evidence for or "
                "against any variant.")
    if planned < EVIDENCE_SEEDS or plan.budget_scale < EVIDENCE_BUDGET_SCALE:
        return (f"This is a smoke/quick run (profile {plan.profile}: {' and '.join(reasons)}). "
                "It shows that the pipeline works; its numbers are not evidence for or against any variant.")
    return (f"Too few runs finished (profile {plan.profile}: {' and '.join(reasons)}). "
            "The tables rest on the finished seeds alone; their numbers are not evidence for or against any variant.")


def experiments_that_ran(ctx: Context) -> list[str]:
    """The plan's experiments with at least one finished run, in config order."""
    return [name for name in ctx.plan.experiments if len(experiment_runs(ctx, name))]


def leader_test(ctx: Context, name: str, aggregate: list[dict[str, Any]], env_ids: list[str]) -> dict[str, Any] | None:
    """The aggregate's top variant against its runner-up: the IQM difference of their normalised scores
    over ``env_ids`` with a stratified-bootstrap CI and a stratified permutation p-value, so the abstract
    ranks them from a test, not from a point estimate or overlapping intervals.

    One test, unadjusted; the top two are picked from the data first, which makes its error rate
    approximate (the report's methods say so). Returns ``{"top", "runner_up", "tested", "significant",
    "estimate", "text"}`` (``estimate``: the IQM difference, normalised; absent when not tested); with fewer than ``MIN_TEST_SEEDS`` seeds no test is made (``tested`` False) and the text
    says so; None with fewer than two variants.
    """
    ranked = sorted(aggregate, key=lambda e: -e["iqm"]["estimate"])
    if len(ranked) < 2 or not env_ids:
        return None
    runs = experiment_runs(ctx, name)
    x, y = (score_matrix(runs, entry["label"], env_ids, "normalised_score") for entry in ranked[:2])
    names = {"top": ranked[0]["label"], "runner_up": ranked[1]["label"]}
    seeds = min(len(x), len(y))
    if seeds < MIN_TEST_SEEDS:
        return {**names, "tested": False, "significant": False,
                "text": f"not tested with {seeds} seed{'s' if seeds != 1 else ''} (a test needs {MIN_TEST_SEEDS})"}
    test = stats.bootstrap_difference(x, y, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng_for(x, y))
    return {**names, "tested": True, "significant": test.p_value < ALPHA, "estimate": test.estimate,
            "text": f"IQM difference {interval_text(test)}, {p_statement(test, adjusted=False)}"}


def experiment_result(ctx: Context, name: str, env_floors: dict[str, float]) -> dict[str, Any]:
    """One experiment's table, its uninformative environments, aggregate and ablation tests."""
    spec = ctx.plan.experiments[name]
    table = results_table(ctx, name, env_floors)
    uninformative = tuple(row["env"] for row in table["rows"] if row["uninformative"])
    note = (f"Left out of the aggregate and the probabilities of improvement, uninformative at this budget "
            f"(no variant's interval clears the floor): {', '.join(uninformative)}." if uninformative else "")
    # Ceiling rows stay in: that no variant costs anything there is a result, and a near-1 score adds at
    # most the 5 % a variant is short of the target to its aggregate. The note says what they do there.
    ceiling = [row["env"] for row in table["rows"] if row["ceiling"]]
    aggregate_envs = normalisable_envs(ctx, name, uninformative)
    aggregate = aggregate_scores(ctx, name, uninformative)
    pairs = improvements(ctx, name, uninformative, table)
    ceiling_note = (f"Every variant at the ceiling (each interval at normalised ≥ {CEILING:g}), so these rows cannot "
                    f"separate the variants at this budget: {', '.join(ceiling)}. They are kept in the aggregate, whose "
                    "differences they dilute in proportion to their share of the tasks, and in the probabilities of "
                    "improvement, which count a consistent difference there as a win however small it is."
                    if ceiling else "")
    fixed = spec.get("settings", {})
    settings_text = (f"Every run of this experiment trains with {', '.join(f'{k}={format_value(v)}' for k, v in fixed.items())}"
                     " (the experiment's settings, over the defaults and the environment settings of the setup)."
                     if fixed else "")
    return {
        "name": name, "title": spec.get("title", name), "question": spec.get("question", ""),
        "settings_text": settings_text, "envs": list(spec["envs"]), "labels": variant_order(ctx, name), "table": table,
        "uninformative": list(uninformative), "uninformative_note": note,
        "ceiling": ceiling, "ceiling_note": ceiling_note,
        "aggregate_envs": aggregate_envs, "task_scores": task_scores(table, aggregate_envs),
        "aggregate": aggregate, "leader": leader_test(ctx, name, aggregate, aggregate_envs), "improvements": pairs,
        "improvements_note": improvements_note(pairs),
        "learning_area_compared": sum(p["learning_area"] is not None for p in pairs),
        "seed_drops": experiment_seed_drops(ctx, name, uninformative),
    }


def task_scores(table: dict[str, Any], env_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """Per variant, its normalised IQM [95 % CI] on each of ``env_ids`` (the aggregate's tasks), in table
    order: ``{label: [{"env", "text"}]}``. An IQM over tasks trims the worst; these say which task it was."""
    out: dict[str, list[dict[str, str]]] = {}
    for row in table["rows"]:
        if row["env"] not in env_ids:
            continue
        for cell in row["cells"]:
            if cell["n"] > 0:
                text = _normalised_cell(cell, envs.spec_for(row["env"]))["text"]
                out.setdefault(cell["label"], []).append({"env": row["env"], "text": text})
    return out


def experiment_seed_drops(ctx: Context, name: str, uninformative: tuple[str, ...]) -> list[dict[str, Any]]:
    """The seeds :func:`score_matrix` drops from the experiment's multi-environment statistics: the
    aggregate and probabilities of improvement (informative environments), and the performance
    profiles (every normalisable environment) when those are other environments. Empty: none dropped."""
    runs, labels = experiment_runs(ctx, name), variant_order(ctx, name)
    aggregate_envs, profile_envs = normalisable_envs(ctx, name, uninformative), normalisable_envs(ctx, name)
    drops = [dropped_seeds(runs, labels, aggregate_envs, "the aggregate and the probabilities of improvement")]
    if profile_envs != aggregate_envs:
        drops.append(dropped_seeds(runs, labels, profile_envs, "the performance profiles"))
    return [drop for drop in drops if drop]


def is_sweep(ctx: Context, name: str) -> bool:
    """Whether an experiment is a settings sweep (``sweep: true`` in its configuration)."""
    return bool(ctx.plan.experiments[name].get("sweep", False))


def chosen_settings(ctx: Context, env: str, keys: list[str]) -> dict[str, Any] | None:
    """The values of ``keys`` that every variant of the other experiments trains with on ``env``: the
    configuration's ``defaults`` merged with its ``env_settings`` of ``env``, as the plan merges them (a
    profile's ``options`` are left out: no profile of the paper sets a swept option), then the RunConfig
    defaults. None when the context carries no configuration."""
    if ctx.config is None:
        return None
    settings = {**ctx.config.get("defaults", {}), **ctx.config.get("env_settings", {}).get(env, {})}
    return {key: settings.get(key, _default(key)) for key in keys}


def _normalised_cell(cell: dict[str, Any], spec: envs.EnvSpec) -> dict[str, Any]:
    """A results-table cell's IQM [CI] on the normalised scale: the map is affine, so the IQM and the
    percentile interval's ends map exactly (the ends swap where the target is below the random score)."""
    ends = sorted((spec.normalise(cell["low"]), spec.normalise(cell["high"])))
    interval = stats.Interval(spec.normalise(cell["estimate"]), *ends)
    return {**interval.as_dict(), "text": interval_text(interval)}


def sensitivity_table(ctx: Context, experiment: str, table: dict[str, Any] | None = None) -> dict[str, Any]:
    """A settings sweep, per environment and per option combination: the IQM of the normalised final
    score over seeds [95 % stratified-bootstrap CI] and n (the final score where the environment has no
    reference scores), and whether the combination is the one the configuration chose for the
    environment (:func:`chosen_settings`). No test and no "best": a sweep of a few seeds is read, not tested.

    ``x`` is the option on the figure's x axis (``lr`` when swept, else the first); every cell's ``line``
    names its values of the other options (and its agent when the sweep has several). The intervals are
    those of the experiment's results ``table`` (:func:`results_table`; computed when not given), so the
    report shows one interval per setting, not two bootstrap draws of it.
    """
    table = results_table(ctx, experiment) if table is None else table
    computed = {(row["env"], cell["label"]): cell for row in table["rows"] for cell in row["cells"]}
    spec = ctx.plan.experiments[experiment]
    keys = list(spec.get("options", {}))
    agents = list(spec["agents"])
    labels = variant_order(ctx, experiment)
    members = ctx.membership[ctx.membership["experiment"] == experiment].drop_duplicates("label").set_index("label")
    x = "lr" if "lr" in keys else (keys[0] if keys else "")
    settings_of, line_of = {}, {}
    for label in labels:
        options = json.loads(members.loc[label, "options"])
        settings_of[label] = {key: options.get(key, _default(key)) for key in keys}
        line = [f"{key}={format_value(settings_of[label][key])}" for key in keys if key != x]
        line_of[label] = ", ".join(([members.loc[label, "agent"]] if len(agents) > 1 else []) + line) or label
    rows = []
    for env in spec["envs"]:
        normalised = not math.isnan(envs.spec_for(env).random_score)
        chosen = chosen_settings(ctx, env, keys)
        cells = []
        for label in labels:
            values = settings_of[label]
            source = computed[(env, label)]
            cell = {"label": label, "agent": str(members.loc[label, "agent"]), "settings": values,
                    "settings_text": ", ".join(f"{key}={format_value(values[key])}" for key in keys),
                    "x": values.get(x), "x_text": format_value(values[x]) if x else "", "line": line_of[label],
                    "n": source["n"], "n_text": f"n = {source['n']}",
                    "chosen": chosen is not None and all(same_value(values[k], chosen[k]) for k in keys)}
            if source["n"]:
                cell.update(_normalised_cell(source, envs.spec_for(env)) if normalised
                            else {key: source[key] for key in ("estimate", "low", "high", "text")})
            else:
                cell.update(estimate=math.nan, low=math.nan, high=math.nan, text="missing")
            cells.append(cell)
        chosen_text = ", ".join(f"{key}={format_value(chosen[key])}" for key in keys) if chosen is not None else ""
        in_grid = any(cell["chosen"] for cell in cells)
        if chosen is None:
            note = "chosen settings not marked (the analysis was given no configuration)"
        elif not in_grid:
            note = f"the configured settings ({chosen_text}) are not in this grid"
        else:
            note = ""
        rows.append({"env": env, "score": "normalised score" if normalised else "final score",
                     "chosen": chosen, "chosen_text": chosen_text, "chosen_in_grid": in_grid, "note": note,
                     "cells": cells})
    grid = " × ".join(f"{key} ∈ {{{', '.join(format_value(v) for v in spec['options'][key])}}}" for key in keys)
    return {"name": experiment, "title": spec.get("title", experiment), "options": keys, "x": x,
            "agents": agents, "agents_text": ", ".join(agents), "grid_text": grid or "no options",
            "combinations": math.prod(len(values) for values in spec.get("options", {}).values()),
            "seeds": len(ctx.plan.seeds), "labels": labels, "rows": rows}


def actor_critic_parts(ctx: Context, ran: list[str]) -> list[str]:
    """Where the runs train with the actor-critic estimator (GAE(lambda) from the critic), one phrase per
    experiment, read from the runs' own options (an experiment's ``settings``, ``env_settings`` or
    ``defaults`` may set it): "the memory experiment on CartPole-P uses its actor-critic form, ..."."""
    options = ctx.membership["options"].map(json.loads)
    members = ctx.membership.assign(gae=options.map(lambda o: o.get("estimator") == "gae"),
                                    normalised=options.map(lambda o: bool(o.get("normalize_returns", False))))
    parts = []
    for name in ran:
        mine = members[members["experiment"] == name]
        where = list(dict.fromkeys(mine.loc[mine["gae"], "env"]))
        if where:
            scope = "" if len(where) == mine["env"].nunique() else f" on {', '.join(where)}"
            normalised = ", normalised over each batch" if bool(mine.loc[mine["gae"], "normalised"].all()) else ""
            parts.append(f"the {ctx.plan.experiments[name].get('title', name).lower()} experiment{scope} uses its "
                         f"actor-critic form, GAE(λ) advantages from a learned critic{normalised}")
    return parts


def introduction(ctx: Context, ran: list[str]) -> str:
    """The abstract's opening, naming only the experiments that ran."""
    titles = [ctx.plan.experiments[name].get("title", name).lower() for name in ran]
    if not titles:
        return "No experiment of this profile has a finished run yet."
    listed = titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]
    planned, (fewest, _) = len(ctx.plan.seeds), fewest_finished(ctx.plan, ctx.runs)
    seeds = f"{planned} seeds per cell" + (f" ({fewest} finished in the sparsest cell)" if fewest < planned else "")
    rule = "REINFORCE on complete episodes" + "".join(f"; {part}" for part in actor_critic_parts(ctx, ran))
    return (f"We train policy-gradient agents ({rule}) that differ in one design choice at a time and report "
            f"{len(titles)} experiment{'s' if len(titles) > 1 else ''} ({listed}), with {seeds}. "
            "Scores are interquartile means (IQM) with 95 % stratified-bootstrap confidence intervals over seeds; "
            + ("differences are tested with stratified permutation tests and Holm-adjusted within each experiment "
               "(the abstract's "
               "test of the top two variants excepted, whose p is unadjusted). Ablation pairs are compared on the final "
               "score and on the area under the learning curve, the return a run earned while learning (its training "
               "return, of sampled actions, averaged over the budget)."
               if fewest >= MIN_TEST_SEEDS else
               f"with fewer than {MIN_TEST_SEEDS} seeds in a cell no difference is tested, and intervals from so few "
               "seeds are rough (their coverage is below the nominal 95 %)."))


@dataclass
class QuestionContext:
    """What a question's ``answer`` sees: the tables, and the experiments' results already computed."""

    data: Context
    experiments: dict[str, Any]
    bandits: list[dict[str, Any]]
    speed: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def scores(self, experiment: str, label: str, env_ids: list[str], column: str = "normalised_score") -> np.ndarray:
        """``[num_seeds, num_envs]`` of ``column`` for one variant of one experiment."""
        return score_matrix(experiment_runs(self.data, experiment), label, env_ids, column)

    def seed_note(self, experiment: str, labels: list[str], env_ids: list[str]) -> str:
        """A sentence naming the seeds :meth:`scores` drops for ``labels`` over ``env_ids``; "" when none."""
        drop = dropped_seeds(experiment_runs(self.data, experiment), labels, env_ids, "this comparison")
        return drop["text"] if drop else ""

    def compare(self, experiment: str, pairs: list[tuple[str, str]], env_ids: list[str], final: bool = True
                ) -> tuple[dict[tuple[str, str], dict[str, str]], str]:
        """Each pair ``(x, y)`` on ``env_ids`` in words with its numbers, and the family's control.

        Per pair: ``final``, the P(X > Y) of the normalised final score (left out with ``final=False``);
        ``area``, that of the normalised area under the learning curve (the return earned while learning,
        which tells apart variants that end tied), or why it is not compared, with ``area_reason``
        ("exploration": the variants act with different randomness by design; "not recorded": a run lacks
        it; "no runs": a variant has no finished run; "" when compared); ``n``, the seeds per task. The
        second value is "Holm over these N tests", or "" for a single test (reported unadjusted) or none.

        These tests are one Holm family of their own, apart from the experiments' families (which test over
        all their tasks), so a pair can read differently here and in the ablation table. A comparison with
        too few seeds is said so and left out of the family, as it tests nothing; one whose family cannot
        reject at its seeds says "not testable".
        """
        runs = experiment_runs(self.data, experiment)
        options = _label_options(self.data, experiment)
        found: list[tuple[tuple[str, str], str, np.ndarray, np.ndarray]] = []
        out: dict[tuple[str, str], dict[str, str]] = {}
        for x, y in pairs:
            x_final, y_final = self.scores(experiment, x, env_ids), self.scores(experiment, y, env_ids)
            texts = out[(x, y)] = {"n": f"n = {len(x_final)} and {len(y_final)} seeds per task", "area_reason": ""}
            if not (len(x_final) and len(y_final)):
                empty = x if not len(x_final) else y
                texts.update(area_reason="no runs", area=f"not compared ({empty} has no finished run on every task)")
                if final:
                    texts["final"] = texts["area"]
                continue
            if final:
                found.append(((x, y), "final", x_final, y_final))
            areas, reason, differing = learning_areas(runs, options, x, y, env_ids)
            if reason == "exploration":
                texts.update(area_reason=reason, area=f"not compared ({x} and {y} act with different "
                                                      f"randomness by design: {', '.join(differing)})")
            elif reason:
                texts.update(area_reason=reason, area="not recorded for every run")
            else:
                found.append(((x, y), "area", *areas))
        testable = [f for f in found if min(len(f[2]), len(f[3])) >= MIN_TEST_SEEDS]
        adjusted = iter(stats.with_holm([stats.probability_of_improvement_test(x, y, poi_replicates(self.data.plan),
                                                                               self.data.rng_for(x, y))
                                         for _, _, x, y in testable]))
        # As in the ablation tables: a family that cannot reject at its seeds says "not testable", not "no difference".
        reachable = iter(stats.holm([stats.smallest_p(len(x), len(y), x.shape[1]) for _, _, x, y in testable])
                         if testable else [])
        for pair, measure, x, y in found:
            seeds = min(len(x), len(y))
            if seeds < MIN_TEST_SEEDS:
                out[pair][measure] = too_few_text(stats.probability_of_improvement(x, y), seeds)
            else:
                test, reach = next(adjusted), next(reachable)
                out[pair][measure] = _pair_entry(test, seeds, reach)["sentence"] if reach >= ALPHA else poi_sentence(
                    poi_verdict(test), test, family=len(testable) > 1)
        return out, (f"Holm over these {len(testable)} tests" if len(testable) > 1 else "")

    def informative_envs(self, experiment: str, envs: list[str]) -> list[str]:
        """``envs`` less those the experiment found uninformative at this budget."""
        left_out = set(self.experiments.get(experiment, {}).get("uninformative", []))
        return [env for env in envs if env not in left_out]

    def ceiling_note(self, experiment: str, envs: list[str]) -> str:
        """A sentence naming those of ``envs`` where every variant of the experiment is at the ceiling
        (:func:`at_ceiling`), whose P(X > Y) counts a difference however small; "" when none is."""
        at = [env for env in envs if env in self.experiments.get(experiment, {}).get("ceiling", [])]
        if not at:
            return ""
        return (f"Every variant's final score is at the ceiling on {', '.join(at)} (normalised ≥ {CEILING:g}): a "
                f"final-score difference there is under {1 - CEILING:.0%} of the distance from the random policy to "
                "the target, and P(X > Y) counts it as a win however small (the area under the learning curve, which "
                "also counts the way there, is not bounded by it).")

    def cells(self, experiment: str, env: str) -> dict[str, dict[str, Any]]:
        """label -> result cell of one environment row of an experiment's table."""
        result = self.experiments.get(experiment)
        if not result:
            return {}
        return {c["label"]: c for row in result["table"]["rows"] if row["env"] == env for c in row["cells"]}


def answers(qctx: QuestionContext) -> list[dict[str, str]]:
    """Every registered question whose runs are in the plan, answered with the measured numbers."""
    out = []
    for question in question_registry.questions():
        if not question.planned(qctx.data.plan):
            continue
        answer = question.answer(qctx)
        if answer:
            out.append({"name": question.name, "question": question.text, "answer": answer})
    return out


def entry_verdict(pair: dict[str, Any], measure: str) -> str:
    """A pair's verdict on ``measure`` ("final score" or the area's), with its P(X > Y) and interval."""
    entry = pair if measure == "final score" else pair["learning_area"]
    return f"{entry['verdict']}, P(X > Y) = {entry['text']}"


def abstract(experiments: dict[str, Any], bandits: list[dict[str, Any]] = ()) -> list[str]:
    """Findings for the abstract, generated from the tests (never from overlapping intervals). ``bandits``
    (:func:`bandit_results`): the one-step tasks' accuracy, said beside a one-variant experiment's normalised
    scores on them, which read high where the accuracy is low (DigitMatch-100: near misses score)."""
    sentences = []
    for experiment in experiments.values():
        ranked = sorted(experiment["aggregate"], key=lambda e: -e["iqm"]["estimate"])
        if len(ranked) == 1:
            label = ranked[0]["label"]
            tasks = experiment.get("task_scores", {}).get(label, [])
            per_task = ("; per task: " + ", ".join(f"{t['env']} {t['text']}" for t in tasks)) if len(tasks) > 1 else ""
            # bandit_results covers the plain "mlp" runs: said beside that label only.
            accuracy = [b for b in bandits if b["env"] in experiment.get("envs", [])] if label == "mlp" else []
            if accuracy:
                per_task += ("; final accuracy (IQM over seeds): "
                             + ", ".join(f"{b['env']} {b['accuracy_text']}" for b in accuracy))
            sentences.append(f"{experiment['title']}: {label}'s normalised IQM is {ranked[0]['iqm']['text']}{per_task}.")
        elif ranked:
            top, runner_up = ranked[0], ranked[1]
            # A point estimate is no ranking: the lead is tested (leader_test), and a lead made of ceiling
            # tasks alone is no finding (no task there can separate the variants).
            solved = bool(experiment["aggregate_envs"]) and set(experiment["aggregate_envs"]) <= set(experiment["ceiling"])
            lead = experiment.get("leader") or {}
            sentence = f"{experiment['title']}: the highest normalised IQM is {top['label']}'s ({top['iqm']['text']})"
            if solved:
                sentence += (f", but every task of its aggregate is at the ceiling "
                             f"({', '.join(experiment['aggregate_envs'])}): the aggregate does not rank them.")
            elif not lead:
                sentence += f"; its lead over {runner_up['label']}'s ({runner_up['iqm']['text']}) is not tested."
            elif lead["significant"] and lead["estimate"] < 1 - CEILING:
                sentence += (f", significantly but narrowly ahead of {lead['runner_up']}'s: {lead['text']} (one test "
                             f"of the top two, p unadjusted; a lead whose estimate is under {1 - CEILING:.0%} of the "
                             "distance from random to target is not counted as a finding, whatever its interval).")
            elif lead["significant"]:
                sentence += f", ahead of {lead['runner_up']}'s: {lead['text']} (one test of the top two, p unadjusted)."
            else:
                sentence += (f", but not clearly ahead of {lead['runner_up']}'s ({runner_up['iqm']['text']}): "
                             f"{lead['text']}" + (" (one test of the top two, p unadjusted)." if lead["tested"] else "."))
            sentences.append(sentence)
        clear = [p for p in experiment["improvements"] if p["verdict"] in ("better", "worse")]
        for pair in clear[:2]:
            sentence = f"{experiment['title']}: {pair['x']} versus {pair['y']}, final score: {pair['sentence']}"
            sentence += f"; {pair['disagreement']}" if pair.get("disagreement") else ""
            area = pair.get("learning_area")
            if area is not None and area["disagreement"]:  # the other measure tells a different story per task
                sentence += f". Area under the learning curve: {area['sentence']}; {area['disagreement']}"
            sentences.append(sentence + ".")
        if len(clear) > 2:  # named, so that a reader of the abstract alone misses no difference the table finds
            more = "; ".join(f"{pair['x']} versus {pair['y']}: {pair['sentence']}" for pair in clear[2:])
            sentences.append(f"{experiment['title']}: also different in final score (the ablation table gives "
                             f"both measures): {more}.")
        # Where the final scores do not differ, the return earned on the way there may.
        faster = [p for p in experiment["improvements"] if p not in clear and p["learning_area"] is not None
                  and p["learning_area"]["verdict"] in ("better", "worse")]
        for pair in faster:
            area = pair["learning_area"]
            sentences.append(f"{experiment['title']}: {pair['x']} versus {pair['y']}, area under the learning curve "
                             f"(final scores: {pair['verdict']}): {area['sentence']}"
                             + (f"; {area['disagreement']}." if area["disagreement"] else "."))
        # A pair not named above whose tasks point opposite ways: its aggregate verdict hides them.
        for pair in experiment["improvements"]:
            if pair in clear[:2] or pair in faster:
                continue
            split = [(measure, entry["disagreement"]) for measure, entry in
                     (("final score", pair), ("area under the learning curve", pair.get("learning_area") or {}))
                     if entry.get("disagreement")]
            for measure, text in split:
                sentences.append(f"{experiment['title']}: {pair['x']} versus {pair['y']}, {measure} "
                                 f"(overall: {entry_verdict(pair, measure)}): {text}.")
        tested = [p for p in experiment["improvements"] if p["verdict"] not in ("too few seeds to tell", NOT_TESTABLE)]
        if experiment["improvements"] and not tested:
            sentences.append(f"{experiment['title']}: too few seeds to test the ablation pairs "
                             + (f"(a test needs {MIN_TEST_SEEDS} per cell)." if not experiment["improvements_note"]
                                else f"at α = {ALPHA:g} after Holm: {experiment['improvements_note']}"))
        elif tested and not clear and not faster:
            compared, total = experiment.get("learning_area_compared", 0), len(experiment["improvements"])
            by_design = any(p.get("learning_area_reason") == "exploration" for p in experiment["improvements"])
            measures = ("final score" if not compared else "final score or area under the learning curve"
                        if compared == total else
                        f"final score, or in area under the learning curve where it was compared ({compared} of {total} pairs)")
            why = (" (the area under the learning curve is not compared where the variants act with different "
                   "randomness by design)" if by_design and not compared else "")
            sentences.append(f"{experiment['title']}: no ablation pair shows a clear difference in {measures} "
                             f"after Holm adjustment{why}.")
        table = experiment.get("table") or {}
        if not table.get("testable", True):  # its rows say "not testable": no verdict, which is not a tie
            sentences.append(f"{experiment['title']}: at these seeds the per-environment table cannot reject any "
                             f"difference (no Holm-adjusted p of its {table['comparisons']} comparisons can fall below "
                             f"{fmt(table['smallest_adjusted_p'], 2)} ≥ α = {ALPHA:g}), so its rows give no verdict: "
                             "a limit of the seeds, not a tie.")
        for row in table.get("rows", []):  # a cell most of whose seeds collapsed: its final score is not the story
            for cell in row["cells"]:
                if 2 * cell.get("collapsed", 0) > cell["n"]:
                    sentences.append(f"{experiment['title']}: {cell['label']} on {row['env']}: the training return "
                                     f"rose and collapsed in {cell['collapsed']} of {cell['n']} seeds (final score "
                                     f"{cell['text']}{'; ' + cell['flag'].split('; ')[0] if cell['no_learning'] else ''}).")  # the floor's flag
        if experiment["uninformative"]:
            sentences.append(f"{experiment['title']}: uninformative at this budget on {', '.join(experiment['uninformative'])}.")
        if experiment["ceiling"]:
            sentences.append(f"{experiment['title']}: every variant at the ceiling on {', '.join(experiment['ceiling'])}, "
                             "which cannot separate them at this budget.")
    return sentences


def analyse(ctx: Context, doctor: list[dict[str, str]]) -> dict[str, Any]:
    env_floors = floors(ctx)
    ran = experiments_that_ran(ctx)
    experiments = {name: experiment_result(ctx, name, env_floors) for name in ran}
    cell_vs_layer = speed_ratio(ctx, "gru", "gru_cell")
    bandits = bandit_results(ctx)
    qctx = QuestionContext(ctx, experiments, bandits, cell_vs_layer)
    result = {
        "caveat": caveat(ctx.plan, ctx.runs),
        "introduction": introduction(ctx, ran),
        "not_run": [ctx.plan.experiments[n].get("title", n) for n in ctx.plan.experiments if n not in ran],
        "floors": {env: {"value": value, "text": floor_text(value)} for env, value in env_floors.items()},
        "alpha": ALPHA,
        "bootstrap_text": bootstrap_text(ctx.plan),
        "min_test_seeds": MIN_TEST_SEEDS,
        "experiments": experiments,
        "time_to_threshold": time_to_threshold(ctx),
        "compute": compute_costs(ctx),
        "parameters": parameter_counts(ctx),
        "gru_vs_gru_cell": cell_vs_layer,
        "bandits": bandits,
        "questions": answers(qctx),
        "abstract": abstract(experiments, bandits),
        "missing": missing_runs(ctx),
        "run_warnings": run_warnings(ctx),
        "doctor": doctor_summary(doctor),
        "counts": {"planned": int(len(ctx.runs)), "finished": int((ctx.runs["status"] == "finished").sum())},
    }
    result["sweeps"] = {name: sensitivity_table(ctx, name, experiments[name]["table"]) for name in ran if is_sweep(ctx, name)}
    result["critic_fit"] = {name: table for name in ran if (table := critic_fit_table(ctx, name)) is not None}
    return result


#: The runs table's column of the critic's fit: run.json's ``critic_explained_variance`` (absent from
#: the tables of runs written before it was recorded).
CRITIC_FIT = "critic_explained_variance"


def has_critic(options: str) -> bool:
    """Whether a run's options (JSON of its non-default settings) give it the learned critic."""
    return json.loads(options).get("baseline", _default("baseline")) == "critic"


def critic_fit_table(ctx: Context, experiment: str) -> dict[str, Any] | None:
    """Environment rows x critic-variant columns: the critic's late explained variance across the
    cell's finished seeds, as its median, range (min-max) and n (the seeds that recorded it).

    A diagnostic of the learned-critic baseline (does the critic fit its targets?), not a compared
    score: no interval and no test. A cell none of whose finished runs has the figure (written before
    run.json recorded it, or a critic whose late targets hardly varied) is "not recorded"; one
    without finished runs "missing"; a variant without a critic on that environment "no critic".
    None when no run of the experiment has a critic.
    """
    members = ctx.membership[ctx.membership["experiment"] == experiment]
    critic = members[members["options"].map(has_critic)]
    if critic.empty:
        return None
    labels = [label for label in variant_order(ctx, experiment) if label in set(critic["label"])]
    runs = experiment_runs(ctx, experiment)
    values = (pd.to_numeric(runs[CRITIC_FIT], errors="coerce") if CRITIC_FIT in runs
              else pd.Series(math.nan, runs.index))  # tables of runs written before it was recorded
    rows = []
    for env in ctx.plan.experiments[experiment]["envs"]:
        cells = []
        for label in labels:
            if not ((critic["env"] == env) & (critic["label"] == label)).any():
                cells.append({"label": label, "n": 0, "finished": 0, "text": "no critic"})
                continue
            chosen = values[(runs["env"] == env) & (runs["label"] == label)]
            recorded = chosen.dropna().to_numpy(dtype=float)
            cell = {"label": label, "n": int(len(recorded)), "finished": int(len(chosen))}
            if len(chosen) == 0:
                cell["text"] = "missing"
            elif len(recorded) == 0:
                cell["text"] = "not recorded"
            else:
                median, low, high = float(np.median(recorded)), float(recorded.min()), float(recorded.max())
                spread = "" if len(recorded) == 1 else f" (range {fmt(low, 2)} to {fmt(high, 2)})"
                unrecorded = f" of {len(chosen)}" if len(recorded) < len(chosen) else ""
                cell.update(median=median, low=low, high=high,
                            text=f"{fmt(median, 2)}{spread}, n = {len(recorded)}{unrecorded}")
            cells.append(cell)
        one_step = envs.spec_for(env).family == "bandit"
        rows.append({"env": env, "cells": cells,
                     "note": "one-step task: the return is the reward of an action sampled after the observation, "
                             "which the critic can predict only on average; near or below 0 is expected while the policy "
                             "samples, and near 1 once it is deterministic (its reward then a function of the "
                             "observation)"
                     if one_step else ""})
    return {"labels": labels, "rows": rows}


def parameter_counts(ctx: Context) -> dict[str, dict[str, Any]]:
    """Per agent: trainable parameters recorded by its runs (whole policy), without and with a critic,
    as ``min-max`` over environments (the sizes depend on the observation and action spaces)."""
    done = finished(ctx.runs)
    out = {}
    for agent, group in done.groupby("agent", sort=True):
        critic = group["options"].map(has_critic)
        out[agent] = {"actor": _count_range(group[~critic]["parameters"]), "with_critic": _count_range(group[critic]["parameters"])}
    return out


def _count_range(values: pd.Series) -> str:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if len(values) == 0:
        return "not run"
    low, high = int(values.min()), int(values.max())
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def load_tables(tables: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """runs (joined with their costs), curves (joined with their wall times), membership."""
    key = ["env", "agent", "variant", "seed"]
    runs = pd.read_parquet(tables / "runs.parquet").merge(pd.read_parquet(tables / "costs.parquet"), on=key, how="left")
    curves = pd.read_parquet(tables / "curves.parquet").merge(
        pd.read_parquet(tables / "curve_times.parquet"), on=[*key, "update"], how="left")
    return runs, curves, pd.read_parquet(tables / "membership.parquet")


def read_doctor(paths: list[str]) -> list[dict[str, str]]:
    rows = []
    for path in paths:
        # keep_default_na=False: the status "n/a" (not applicable) must stay a string, not become NaN.
        rows.extend(pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paper.analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--config-json", required=True)
    parser.add_argument("--tables", required=True, help="directory written by bench.pipeline.aggregate")
    parser.add_argument("--doctor", nargs="*", default=[], help="doctor CSV files")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    config = json.loads(args.config_json)
    plan = load_plan(config, check_registries=False)
    ctx = Context(plan, *load_tables(Path(args.tables)), plan.bootstrap_seed, config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = analyse(ctx, read_doctor(args.doctor))
    curve_summary(ctx).to_parquet(out / "curve_summary.parquet", index=False)
    profiles(ctx).to_parquet(out / "profiles.parquet", index=False)
    (out / "analysis.json").write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")  # keep config order
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
