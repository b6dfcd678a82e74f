"""Collect finished runs into tidy tables (pandas, parquet).

``python -m bench.aggregate --config-json JSON --out DIR`` writes:

- ``runs.parquet``: one row per planned run: settings, status, final scores,
  cost (wall-clock, steps per second, peak memory from Snakemake's benchmark file);
- ``curves.parquet``: the training curve of every finished run (one row per update);
- ``membership.parquet``: which experiment each run belongs to (a run shared by
  two experiments appears twice here and once in ``runs.parquet``).

A run without a ``run.json`` is listed with status ``missing`` (or ``failed``
when its log says why), never silently dropped.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench import envs
from bench.plan import Plan, RunSpec, load_plan, plan_table
from bench.runio import METRICS_FILE, RUN_FILE

CURVE_COLUMNS = ["update", "env_steps", "wall_time", "return_mean", "success_rate", "entropy", "episodes"]


def benchmark_path(plan: Plan, run: RunSpec) -> Path:
    return Path(f"{plan.results}/benchmarks/train/{run.env}/{run.agent}/{run.variant}/seed{run.seed}.tsv")


def log_path(plan: Plan, run: RunSpec) -> Path:
    return Path(f"{plan.results}/logs/train/{run.env}/{run.agent}/{run.variant}/seed{run.seed}.log")


def _benchmark(path: Path) -> dict[str, float]:
    """Snakemake's benchmark file: wall seconds ``s`` and peak resident memory ``max_rss`` (MB)."""
    if not path.exists():
        return {"bench_seconds": math.nan, "max_rss_mb": math.nan}
    table = pd.read_csv(path, sep="\t")
    row = table.iloc[-1]

    def number(column: str) -> float:
        value = pd.to_numeric(row.get(column, math.nan), errors="coerce")
        return float(value) if pd.notna(value) else math.nan

    return {"bench_seconds": number("s"), "max_rss_mb": number("max_rss")}


def _failure_reason(path: Path) -> str:
    if not path.exists():
        return ""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1][:300]


def run_row(plan: Plan, run: RunSpec) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The summary row of one run and its training curve (None if not finished)."""
    directory = Path(run.directory(plan.results))
    spec = envs.spec_for(run.env)
    row: dict[str, Any] = {
        "env": run.env, "agent": run.agent, "variant": run.variant, "label": run.label, "seed": run.seed,
        "options": json.dumps(dict(run.options)), "run_dir": str(directory), "family": spec.family,
        "partially_observable": spec.partially_observable,
    }
    row.update(_benchmark(benchmark_path(plan, run)))
    if not (directory / RUN_FILE).exists() or not (directory / METRICS_FILE).exists():
        reason = _failure_reason(log_path(plan, run))
        row.update(status="failed" if reason else "missing", reason=reason)
        return row, None
    info = json.loads((directory / RUN_FILE).read_text())
    metrics = pd.read_parquet(directory / METRICS_FILE)
    row.update(
        status=info.get("status", "finished"), reason="",
        final_score=info["final_score"], final_success_rate=info["final_success_rate"],
        normalised_score=info["normalised_score"], env_steps=info["env_steps"], updates=info["updates"],
        train_seconds=info["train_seconds"], wall_seconds=info["wall_seconds"],
        steps_per_second=info["steps_per_second"], parameters=info["parameters"], device=info["device"],
        cpu_model=info.get("cpu_model"), gpu_model=info.get("gpu_model"), git_commit=info.get("git_commit"),
        versions=json.dumps(info.get("versions", {}), sort_keys=True),
    )
    curve = metrics[metrics["phase"] == "train"][CURVE_COLUMNS].copy()
    for key in ("env", "agent", "variant", "seed"):
        curve.insert(0, key, row[key])
    return row, curve


def aggregate(plan: Plan) -> dict[str, pd.DataFrame]:
    rows, curves = [], []
    for run in plan.runs:
        row, curve = run_row(plan, run)
        rows.append(row)
        if curve is not None:
            curves.append(curve)
    runs = pd.DataFrame(rows)
    curve_table = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["env", "agent", "variant", "seed", *CURVE_COLUMNS])
    return {"runs": runs, "curves": curve_table, "membership": pd.DataFrame(plan_table(plan))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aggregate", description=__doc__.splitlines()[0])
    parser.add_argument("--config-json", required=True, help="the pipeline configuration, as JSON")
    parser.add_argument("--out", required=True, help="output directory for the tables")
    args = parser.parse_args(argv)
    plan = load_plan(json.loads(args.config_json))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in aggregate(plan).items():
        table.to_parquet(out / f"{name}.parquet", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
