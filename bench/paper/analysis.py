"""Every number of the report, computed from the aggregated tables.

``python -m bench.paper.analysis --config-json JSON --tables DIR --out DIR`` writes
``analysis.json`` (tables, intervals, answers and the abstract's findings, all
as plain data for the template) and ``curve_summary.parquet`` /
``profiles.parquet`` (the data behind the figures). The template only presents.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import envs
from bench.paper import stats
from bench.pipeline.plan import Plan, load_plan

CURVE_POINTS = 40
CURVE_REPLICATES = 300
SMOOTHING_UPDATES = 3
PROFILE_THRESHOLDS = np.linspace(-0.25, 1.25, 61)


@dataclass
class Context:
    plan: Plan
    runs: pd.DataFrame  # one row per run (finished or not)
    curves: pd.DataFrame
    membership: pd.DataFrame
    rng: np.random.Generator


def fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (no exponent for everyday sizes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def interval_text(interval: stats.Interval) -> str:
    return f"{fmt(interval.estimate)} [{fmt(interval.low)}, {fmt(interval.high)}]"


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
    """``[num_seeds, num_envs]`` of ``column`` for one variant (seeds present in every env)."""
    per_env = [runs[(runs["label"] == label) & (runs["env"] == env)].sort_values("seed")[column].to_numpy() for env in env_ids]
    if not per_env or min(len(v) for v in per_env) == 0:
        return np.empty((0, len(env_ids)))
    count = min(len(v) for v in per_env)
    return np.stack([v[:count] for v in per_env], axis=1)


def results_table(ctx: Context, experiment: str) -> dict[str, Any]:
    """Environment rows x variant columns: IQM of the final score [95 % CI]; best and ties marked."""
    runs = experiment_runs(ctx, experiment)
    labels = variant_order(ctx, experiment)
    env_ids = list(ctx.plan.experiments[experiment]["envs"])
    rows = []
    for env in env_ids:
        cells = []
        for label in labels:
            scores = score_matrix(runs, label, [env], "final_score")
            if len(scores) == 0:
                cells.append({"label": label, "text": "missing", "n": 0, "best": False, "tied": False})
                continue
            interval = stats.bootstrap_interval(scores, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng)
            cells.append({"label": label, "n": int(len(scores)), **interval.as_dict(), "text": interval_text(interval),
                          "best": False, "tied": False})
        scored = [c for c in cells if c["n"] > 0]
        if scored:
            best = max(scored, key=lambda c: c["estimate"])
            best["best"] = True
            for cell in scored:
                # Tied with the best: the intervals overlap.
                cell["tied"] = not cell["best"] and cell["high"] >= best["low"]
        rows.append({"env": env, "cells": cells})
    return {"labels": labels, "rows": rows}


def aggregate_scores(ctx: Context, experiment: str) -> list[dict[str, Any]]:
    """IQM, median and mean of normalised final scores across environments, per variant."""
    runs = experiment_runs(ctx, experiment)
    env_ids = [e for e in ctx.plan.experiments[experiment]["envs"] if not math.isnan(envs.spec_for(e).random_score)]
    out = []
    for label in variant_order(ctx, experiment):
        scores = score_matrix(runs, label, env_ids, "normalised_score")
        if len(scores) == 0:
            continue
        entry: dict[str, Any] = {"label": label, "seeds": int(len(scores))}
        for name, statistic in stats.STATISTICS.items():
            interval = stats.bootstrap_interval(scores, statistic, ctx.plan.bootstrap_replicates, ctx.rng)
            entry[name] = {**interval.as_dict(), "text": interval_text(interval)}
        out.append(entry)
    return out


def ablation_pairs(ctx: Context, experiment: str) -> list[tuple[str, str]]:
    """(x, y) label pairs to compare: from ``pairs`` in the config, and each variant vs the same
    agent with the ``reference`` option values (everything else equal)."""
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
    return [p for p in pairs if p[0] in labels and p[1] in labels]


def _default(name: str) -> Any:
    from bench.learn.config import RunConfig

    return getattr(RunConfig(), name)


def improvements(ctx: Context, experiment: str) -> list[dict[str, Any]]:
    """Probability of improvement P(x > y) on normalised final scores, per pair."""
    runs = experiment_runs(ctx, experiment)
    env_ids = [e for e in ctx.plan.experiments[experiment]["envs"] if not math.isnan(envs.spec_for(e).random_score)]
    out = []
    for x, y in ablation_pairs(ctx, experiment):
        x_scores, y_scores = score_matrix(runs, x, env_ids, "normalised_score"), score_matrix(runs, y, env_ids, "normalised_score")
        if len(x_scores) == 0 or len(y_scores) == 0:
            continue
        interval = stats.probability_of_improvement_interval(x_scores, y_scores, min(ctx.plan.bootstrap_replicates, 1000), ctx.rng)
        if min(len(x_scores), len(y_scores)) < 2:
            verdict = "too few seeds to tell"  # one seed: no interval, no claim
        else:
            verdict = "better" if interval.low > 0.5 else "worse" if interval.high < 0.5 else "no clear difference"
        out.append({"x": x, "y": y, **interval.as_dict(), "text": interval_text(interval), "verdict": verdict})
    return out


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
                    curve = ctx.curves[(ctx.curves["env"] == env) & (ctx.curves["agent"] == run["agent"])
                                       & (ctx.curves["variant"] == run["variant"]) & (ctx.curves["seed"] == run["seed"])]
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
                    picks = ctx.rng.integers(0, len(series), size=(CURVE_REPLICATES, len(series)))
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
        env_ids = [e for e in ctx.plan.experiments[experiment]["envs"] if not math.isnan(envs.spec_for(e).random_score)]
        for label in variant_order(ctx, experiment):
            scores = score_matrix(runs, label, env_ids, "normalised_score")
            if len(scores) == 0:
                continue
            estimate, low, high = stats.performance_profile_band(scores, PROFILE_THRESHOLDS, 500, ctx.rng)
            for tau, e, lo, hi in zip(PROFILE_THRESHOLDS, estimate, low, high):
                rows.append({"experiment": experiment, "label": label, "tau": float(tau), "fraction": float(e),
                             "low": float(lo), "high": float(hi)})
    return pd.DataFrame(rows, columns=["experiment", "label", "tau", "fraction", "low", "high"])


def time_to_threshold(ctx: Context) -> list[dict[str, Any]]:
    """Steps and wall-clock until the smoothed training return reaches the solve threshold."""
    out = []
    for (env, label), group in finished(ctx.runs).groupby(["env", "label"], sort=False):
        spec = envs.spec_for(env)
        if math.isnan(spec.random_score):
            continue
        threshold = spec.random_score + ctx.plan.solve_fraction * (spec.target_score - spec.random_score)
        steps_needed, seconds_needed = [], []
        for _, run in group.iterrows():
            curve = ctx.curves[(ctx.curves["env"] == env) & (ctx.curves["agent"] == run["agent"])
                               & (ctx.curves["variant"] == run["variant"]) & (ctx.curves["seed"] == run["seed"])]
            steps, values = smoothed_curve(curve, "return_mean")
            steps_needed.append(stats.first_crossing(steps, values, threshold))
            seconds_needed.append(stats.first_crossing(curve["wall_time"].to_numpy(), values, threshold))
        solved = [s for s in steps_needed if not math.isnan(s)]
        seconds = [s for s in seconds_needed if not math.isnan(s)]
        out.append({"env": env, "label": label, "threshold": threshold, "seeds": len(steps_needed),
                    "solved": len(solved), "median_steps": float(np.median(solved)) if solved else math.nan,
                    "median_seconds": float(np.median(seconds)) if seconds else math.nan,
                    "median_steps_text": fmt(float(np.median(solved))) if solved else "not reached",
                    "median_seconds_text": fmt(float(np.median(seconds))) if seconds else "not reached"})
    return out


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
    ratio = float(np.median(a[shared] / b[shared]))
    return {"numerator": numerator, "denominator": denominator, "ratio": ratio, "pairs": int(len(shared)),
            "text": fmt(ratio)}


def bandit_results(ctx: Context) -> list[dict[str, Any]]:
    """Accuracy on the one-step tasks, and the samples needed to reach 90 % training accuracy."""
    out = []
    done = finished(ctx.runs)
    default_runs = done[done["variant"] == "default"]
    for env in ("DigitMatch-10", "DigitMatch-100", "GaussianTarget"):
        group = default_runs[(default_runs["env"] == env) & (default_runs["agent"] == "mlp")]
        if len(group) == 0:
            continue
        accuracy = stats.bootstrap_interval(group["final_success_rate"].to_numpy(), stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng)
        samples = []
        for _, run in group.iterrows():
            curve = ctx.curves[(ctx.curves["env"] == env) & (ctx.curves["agent"] == "mlp")
                               & (ctx.curves["variant"] == run["variant"]) & (ctx.curves["seed"] == run["seed"])]
            steps, success = smoothed_curve(curve, "success_rate")
            samples.append(stats.first_crossing(steps, success, 0.9))
        reached = [s for s in samples if not math.isnan(s)]
        entry = {"env": env, "seeds": int(len(group)), "accuracy": accuracy.as_dict(), "accuracy_text": interval_text(accuracy),
                 "samples": int(group["env_steps"].median()), "reached_90": len(reached),
                 "samples_to_90_text": fmt(float(np.median(reached))) if reached else "not reached"}
        if env == "GaussianTarget":
            distance = np.sqrt(np.clip(-group["final_score"].to_numpy(), 0, None))
            entry["distance_text"] = interval_text(stats.bootstrap_interval(distance, stats.iqm, ctx.plan.bootstrap_replicates, ctx.rng))
        out.append(entry)
    return out


def missing_runs(ctx: Context) -> list[dict[str, Any]]:
    bad = ctx.runs[ctx.runs["status"] != "finished"]
    return [{"run": f"{r.env}/{r.label}/seed{r.seed}", "status": r.status, "reason": r.reason} for r in bad.itertuples()]


def _find(items: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((i for i in items if all(i.get(k) == v for k, v in match.items())), None)


def answers(ctx: Context, experiments: dict[str, Any], bandits: list[dict[str, Any]], cell_vs_layer: dict | None) -> list[dict[str, str]]:
    """The seed threads' questions, answered with the measured numbers."""
    out = []
    memory = experiments.get("memory")
    if memory:
        partial = [e for e in ctx.plan.experiments["memory"]["envs"] if envs.spec_for(e).partially_observable]
        runs = experiment_runs(ctx, "memory")
        gru, reset = score_matrix(runs, "gru", partial, "normalised_score"), score_matrix(runs, "gru_reset", partial, "normalised_score")
        if len(gru) and len(reset):
            poi = stats.probability_of_improvement_interval(gru, reset, min(ctx.plan.bootstrap_replicates, 1000), ctx.rng)
            out.append({"thread": "002", "question": "Does a GRU need its hidden state fed back, or can it be reset to zero every step?",
                        "answer": f"On the partially observable tasks ({', '.join(partial)}), the GRU that feeds its state back "
                                  f"beats the same GRU reset every step with probability {interval_text(poi)} "
                                  f"(probability of improvement over seeds; 0.5 = no difference)."})
        cells = {c["label"]: c for row in memory["table"]["rows"] if row["env"] == "CartPole-P" for c in row["cells"]}
        if cells:
            parts = [f"{name}: {cells[name]['text']}" for name in ("gru_cell", "gru", "window", "mlp") if name in cells and cells[name]["n"]]
            speed = f" The GRU layer runs at {cell_vs_layer['text']}x the steps per second of the hand-unrolled GRUCell." if cell_vs_layer else ""
            out.append({"thread": "002", "question": "GRUCell unrolled by hand, GRU layer over sequences, or a window of the last 5 observations?",
                        "answer": "Final score on CartPole-P (IQM [95 % CI]): " + "; ".join(parts) + "." + speed})
    for entry in bandits:
        if entry["env"].startswith("DigitMatch"):
            if entry["reached_90"]:
                speed = (f"{entry['reached_90']} of {entry['seeds']} seeds reached 90 % training accuracy, "
                         f"after a median of {entry['samples_to_90_text']} samples.")
            else:
                speed = f"No seed reached 90 % training accuracy within the budget ({entry['seeds']} seeds)."
            out.append({"thread": "001", "question": f"What accuracy does REINFORCE reach on {entry['env']}, and after how many samples?",
                        "answer": f"Exact-match accuracy {entry['accuracy_text']} (IQM [95 % CI]) after "
                                  f"{fmt(entry['samples'])} samples. " + speed})
    baseline = experiments.get("baseline")
    if baseline:
        pair = _find(baseline["improvements"], x="mlp [baseline=running_mean]", y="mlp [baseline=none]")
        gaussian = {c["label"]: c for row in baseline["table"]["rows"] if row["env"] == "GaussianTarget" for c in row["cells"]}
        if gaussian:
            parts = [f"{label}: {cell['text']}" for label, cell in gaussian.items() if cell["n"] and label.startswith("mlp")]
            extra = f" Across the baseline experiment's tasks, P(running mean > none) = {pair['text']}." if pair else ""
            out.append({"thread": "003", "question": "Does a baseline help the Gaussian policy learn its target value?",
                        "answer": "Final reward on GaussianTarget (IQM [95 % CI], 0 is perfect): " + "; ".join(parts) + "." + extra})
    return out


def abstract(experiments: dict[str, Any]) -> list[str]:
    """Findings for the abstract, generated from the numbers."""
    sentences = []
    for experiment in experiments.values():
        ranked = sorted(experiment["aggregate"], key=lambda e: -e["iqm"]["estimate"])
        if ranked:
            top = ranked[0]
            sentences.append(f"{experiment['title']}: the best variant by normalised IQM is {top['label']} "
                             f"({top['iqm']['text']}).")
        clear = [p for p in experiment["improvements"] if p["verdict"] in ("better", "worse")]
        for pair in clear[:2]:
            sentences.append(f"{pair['x']} is {pair['verdict']} than {pair['y']} (P = {pair['text']}).")
    return sentences


def analyse(ctx: Context, doctor: list[dict[str, str]]) -> dict[str, Any]:
    experiments: dict[str, Any] = {}
    for name, spec in ctx.plan.experiments.items():
        experiments[name] = {
            "name": name, "title": spec.get("title", name), "question": spec.get("question", ""),
            "envs": list(spec["envs"]), "labels": variant_order(ctx, name),
            "table": results_table(ctx, name), "aggregate": aggregate_scores(ctx, name),
            "improvements": improvements(ctx, name),
        }
    cell_vs_layer = speed_ratio(ctx, "gru", "gru_cell")
    bandits = bandit_results(ctx)
    questions = answers(ctx, experiments, bandits, cell_vs_layer)
    return {
        "experiments": experiments,
        "time_to_threshold": time_to_threshold(ctx),
        "compute": compute_costs(ctx),
        "gru_vs_gru_cell": cell_vs_layer,
        "bandits": bandits,
        "questions": questions,
        "abstract": abstract(experiments),
        "missing": missing_runs(ctx),
        "doctor": doctor,
        "counts": {"planned": int(len(ctx.runs)), "finished": int((ctx.runs["status"] == "finished").sum())},
    }


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
        rows.extend(pd.read_csv(path, dtype=str).fillna("").to_dict("records"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paper.analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--config-json", required=True)
    parser.add_argument("--tables", required=True, help="directory written by bench.pipeline.aggregate")
    parser.add_argument("--doctor", nargs="*", default=[], help="doctor CSV files")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    plan = load_plan(json.loads(args.config_json))
    ctx = Context(plan, *load_tables(Path(args.tables)), np.random.default_rng(plan.bootstrap_seed))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = analyse(ctx, read_doctor(args.doctor))
    curve_summary(ctx).to_parquet(out / "curve_summary.parquet", index=False)
    profiles(ctx).to_parquet(out / "profiles.parquet", index=False)
    (out / "analysis.json").write_text(json.dumps(result, indent=1, allow_nan=True) + "\n")  # keep config order
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
