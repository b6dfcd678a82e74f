"""Collect finished runs into tidy tables (pandas, parquet).

``python -m bench.pipeline.aggregate --config-json JSON --out DIR`` writes:

- ``runs.parquet``: one row per planned run: settings, status, final scores;
- ``curves.parquet``: the training curve of every finished run (one row per update);
- ``membership.parquet``: which experiment each run belongs to (a run shared by
  two experiments appears twice here and once in ``runs.parquet``);
- ``costs.parquet`` and ``curve_times.parquet``: what depends on the machine and
  its load (wall-clock, steps per second, peak memory from Snakemake's benchmark
  file, hardware, commit, SLURM job id; wall time per update).

The first three are results: the same runs give byte-identical files (tested),
wherever and however the runs were executed.

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
from bench.pipeline.plan import Plan, RunSpec, load_plan, plan_table
from bench.pipeline.runio import METRICS_FILE, RUN_FILE

KEY = ["env", "agent", "variant", "seed"]
CURVE_COLUMNS = ["update", "env_steps", "return_mean", "success_rate", "entropy", "episodes"]


def benchmark_path(plan: Plan, run: RunSpec) -> Path:
    """Snakemake's benchmark file of the job that trained ``run``."""
    return Path(f"{plan.results}/benchmarks/train/{run.env}/{run.agent}/{run.variant}/{plan.job_of(run).name}.tsv")


def log_path(plan: Plan, run: RunSpec) -> Path:
    return Path(f"{plan.results}/logs/train/{run.env}/{run.agent}/{run.variant}/{plan.job_of(run).name}.log")


def _run_share(benchmark: dict[str, float], runs_in_job: int) -> dict[str, float]:
    """A run's share of its job's time (a job may train a block of seeds); memory stays the job's peak."""
    return {**benchmark, "bench_seconds": benchmark["bench_seconds"] / runs_in_job,
            "cpu_seconds": benchmark["cpu_seconds"] / runs_in_job}


def _benchmark(path: Path) -> dict[str, float]:
    """Snakemake's benchmark file: wall seconds ``s``, peak resident memory ``max_rss`` (MB), ``cpu_time`` (s)."""
    if not path.exists():
        return {"bench_seconds": math.nan, "max_rss_mb": math.nan, "cpu_seconds": math.nan}
    table = pd.read_csv(path, sep="\t")
    row = table.iloc[-1]

    def number(column: str) -> float:
        value = pd.to_numeric(row.get(column, math.nan), errors="coerce")
        return float(value) if pd.notna(value) else math.nan

    return {"bench_seconds": number("s"), "max_rss_mb": number("max_rss"), "cpu_seconds": number("cpu_time")}


def _failure_reason(path: Path) -> str:
    if not path.exists():
        return ""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1][:300]


def _number(value: Any) -> float:
    """A run.json number, or NaN where the key is absent or null (runs written before it existed)."""
    return math.nan if value is None else float(value)


def run_rows(plan: Plan, run: RunSpec) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame | None]:
    """One run's result row, cost row, and training curve (None unless finished)."""
    directory = Path(plan.directory(run))
    spec = envs.spec_for(run.env)
    key = {"env": run.env, "agent": run.agent, "variant": run.variant, "seed": run.seed}
    result: dict[str, Any] = {
        **key, "label": run.label, "options": json.dumps(dict(run.options)),
        "family": spec.family, "partially_observable": spec.partially_observable,
    }
    # Where and how a run was trained is a cost, not a result: the result tables
    # are the same whatever the seeds-per-job grouping.
    job = plan.job_of(run)
    cost: dict[str, Any] = {**key, "run_dir": str(directory), "job": job.name, "runs_in_job": len(job.seeds),
                            **_run_share(_benchmark(benchmark_path(plan, run)), len(job.seeds))}
    if not (directory / RUN_FILE).exists():
        reason = _failure_reason(log_path(plan, run))
        result.update(status="failed" if reason else "missing", reason=reason)
        return result, cost, None
    info = json.loads((directory / RUN_FILE).read_text())
    cost.update(device=info.get("device"), cpu_model=info.get("cpu_model"), gpu_model=info.get("gpu_model"),
                git_commit=info.get("git_commit"), slurm_job_id=info.get("slurm_job_id"),
                versions=json.dumps(info.get("versions", {}), sort_keys=True))
    if info.get("status") != "finished":
        result.update(status=info.get("status", "failed"), reason=info.get("error", ""))
        return result, cost, None
    result.update(
        status="finished", reason="", final_score=info["final_score"], final_success_rate=info["final_success_rate"],
        normalised_score=info["normalised_score"], env_steps=info["env_steps"], updates=info["updates"],
        parameters=info["parameters"],
        # The untrained deterministic policy's score (the floor); absent in older runs.
        initial_score=_number(info.get("initial_score")),
        initial_normalised_score=_number(info.get("initial_normalised_score")),
    )
    cost.update(train_seconds=info["train_seconds"], wall_seconds=info["wall_seconds"],
                steps_per_second=info["steps_per_second"])
    metrics = pd.read_parquet(directory / METRICS_FILE)
    curve = metrics[metrics["phase"] == "train"][[*CURVE_COLUMNS, "wall_time"]].copy()
    for name, value in reversed(key.items()):
        curve.insert(0, name, value)
    return result, cost, curve


def aggregate(plan: Plan) -> dict[str, pd.DataFrame]:
    results, costs, curves = [], [], []
    for run in plan.runs:
        result, cost, curve = run_rows(plan, run)
        results.append(result)
        costs.append(cost)
        if curve is not None:
            curves.append(curve)
    curve_table = (pd.concat(curves, ignore_index=True) if curves
                   else pd.DataFrame(columns=[*KEY, *CURVE_COLUMNS, "wall_time"]))
    return {
        "runs": pd.DataFrame(results),
        "curves": curve_table[[*KEY, *CURVE_COLUMNS]],
        "membership": pd.DataFrame(plan_table(plan)),
        "costs": pd.DataFrame(costs),
        "curve_times": curve_table[[*KEY, "update", "wall_time"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline.aggregate", description=__doc__.splitlines()[0])
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
