"""Collect finished runs into tidy tables (pandas, parquet).

``python -m bench.pipeline.aggregate --config-json JSON --out DIR`` writes:

- ``runs.parquet``: one row per planned run: settings, status, final scores, the area under its
  learning curve;
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

Nothing in a run folder is trusted blindly: every ``run.json`` must be readable
and record the configuration the plan resolves for that run (environment, agent,
seed, steps = the plan's budget, every option), and a finished run's metrics
file must be readable and match the SHA-256 its ``run.json`` recorded. A run
that does not is not tabled: the command exits 1 with one line naming its folder
and what differs (``RunMismatch``). Deleting the folder retrains the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import envs
from bench.learn.config import RunConfig
from bench.pipeline.plan import Plan, RunSpec, load_plan, plan_table
from bench.pipeline.runio import DIGEST_KEY, METRICS_FILE, RUN_FILE, file_sha256

KEY = ["env", "agent", "variant", "seed"]
CURVE_COLUMNS = ["update", "env_steps", "return_mean", "success_rate", "entropy", "episodes"]


class RunMismatch(ValueError):
    """A run folder whose files are not the run the plan asks for; the message is one line naming it."""


def planned_config(plan: Plan, run: RunSpec) -> dict[str, Any]:
    """The resolved ``RunConfig`` of ``run`` (as ``run.json`` records it): what ``python -m bench run``
    trains with the arguments of ``Plan.arguments``."""
    config = RunConfig(env=run.env, agent=run.agent, seed=run.seed, steps=plan.steps_for(run.env), **dict(run.options))
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (bool, type(None))) else str(value)


def same_value(recorded: Any, planned: Any) -> bool:
    """Equal, without letting ``True`` stand for ``1`` (0 and 0.0 are the same number)."""
    return recorded == planned and isinstance(recorded, bool) == isinstance(planned, bool)


def check_run(plan: Plan, run: RunSpec, directory: Path) -> dict[str, Any]:
    """The run info of ``directory``, checked against the plan; ``RunMismatch`` on the first difference.

    Every run: ``run.json`` readable, its ``config`` the plan's resolved config for ``run``, its
    ``seed`` the run's. A finished run also: ``metrics.parquet`` readable, and its SHA-256 the
    ``metrics_sha256`` recorded in ``run.json``. A failed run is listed as it is (its metrics may be
    partial or empty).
    """
    def mismatch(what: str) -> RunMismatch:
        return RunMismatch(f"{directory}: {what}")

    try:
        info = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise mismatch(f"{RUN_FILE} is not readable JSON ({' '.join(str(error).split())})") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise mismatch(f"{RUN_FILE} records no config (an object under \"config\")")
    recorded, planned = info["config"], planned_config(plan, run)
    for name in planned:
        if name not in recorded:
            raise mismatch(f"{RUN_FILE} has no {name}, the plan says {_shown(planned[name])}")
        if not same_value(recorded[name], planned[name]):
            raise mismatch(f"{RUN_FILE} says {name}={_shown(recorded[name])}, the plan says {_shown(planned[name])}")
    extra = sorted(set(recorded) - set(planned))
    if extra:
        raise mismatch(f"{RUN_FILE} has {extra[0]}={_shown(recorded[extra[0]])}, which is not a setting of this code")
    if not same_value(info.get("seed"), run.seed):
        raise mismatch(f"{RUN_FILE} says seed={_shown(info.get('seed'))}, the plan says {run.seed}")
    if info.get("status") != "finished":
        return info
    metrics = directory / METRICS_FILE
    if DIGEST_KEY not in info:
        raise mismatch(f"{RUN_FILE} records no {DIGEST_KEY} (written before digests?); "
                       f"its {METRICS_FILE} cannot be verified")
    try:
        digest = file_sha256(metrics)
        pd.read_parquet(metrics)
    except Exception as error:  # a missing, truncated or foreign file: pyarrow raises several kinds
        raise mismatch(f"{METRICS_FILE} is not readable ({type(error).__name__}: {' '.join(str(error).split())})"[:400]) from None
    if digest != info[DIGEST_KEY]:
        raise mismatch(f"{METRICS_FILE} has sha256 {digest[:16]}..., {RUN_FILE} says {str(info[DIGEST_KEY])[:16]}... "
                       "(the metrics file was replaced or changed after the run)")
    return info


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


#: How a failed run ended (``failure`` in the runs table): ``diverged`` (non-finite training: a result of
#: its config and seed, an unsolved seed in a solve-time summary) or ``crashed`` (an exception, a lost job).
FAILURES = ("diverged", "crashed")


def failure_kind(info: dict[str, Any], reason: str) -> str:
    """``info["failure"]`` (``run.json`` since session 10); for older files and failures known only from
    the job's log, read once here from the reason ``bench.cli`` wrote (``run diverged: ...``)."""
    if info.get("failure") in FAILURES:
        return str(info["failure"])
    return "diverged" if "run diverged" in reason else "crashed"


def _number(value: Any) -> float:
    """A run.json number, or NaN where the key is absent or null (runs written before it existed)."""
    return math.nan if value is None else float(value)


def learning_curve_area(env_steps: pd.Series, returns: pd.Series, budget: int) -> float:
    """The area under a run's learning curve per environment step of its budget, in units of return.

    Each update's training return (the mean return of its batch of episodes, actions
    sampled from the stochastic policy) counts for the environment steps its batch took
    within the budget: ``sum_u R_u (min(s_u, B) - min(s_{u-1}, B)) / B`` with ``s_u`` the
    cumulative steps (``env_steps``, ``s_0 = 0``) and ``B`` the budget (the last batch
    runs past it; clipped, every run of an environment is judged over the same steps).
    It judges a run by the return it earned while learning as well as where it ended
    (Poole and Mackworth, "Artificial Intelligence: Foundations of Computational
    Agents", 3rd ed., section 13.6), so two variants that both end at the target differ
    in it when one got there sooner. It also charges a policy for its own exploration
    noise (the returns are of sampled actions). NaN for a run without updates.
    """
    steps = np.minimum(env_steps.to_numpy(dtype=float), float(budget))
    if len(steps) == 0 or steps[-1] <= 0:
        return math.nan
    taken = np.diff(steps, prepend=0.0)
    return float((returns.to_numpy(dtype=float) * taken).sum() / steps[-1])


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
        block = Path(job.directory(plan.results))
        if job.block and block.is_dir():
            # A seed block is trained, and retrained, as a whole: one of its runs missing from a
            # finished block was deleted by hand, and Snakemake would not notice.
            raise RunMismatch(f"{directory}: {RUN_FILE} is missing but its seed block {block} is there; "
                              "delete the block's folder to retrain it")
        reason = _failure_reason(log_path(plan, run))
        result.update(status="failed" if reason else "missing", reason=reason,
                      failure=failure_kind({}, reason) if reason else "")
        return result, cost, None
    info = check_run(plan, run, directory)
    cost.update(device=info.get("device"), cpu_model=info.get("cpu_model"), gpu_model=info.get("gpu_model"),
                git_commit=info.get("git_commit"), slurm_job_id=info.get("slurm_job_id"),
                versions=json.dumps(info.get("versions", {}), sort_keys=True))
    if info.get("status") != "finished":
        result.update(status=info.get("status", "failed"), reason=info.get("error", ""),
                      failure=failure_kind(info, info.get("error", "")))
        return result, cost, None
    result.update(
        status="finished", reason="", failure="", final_score=info["final_score"], final_success_rate=info["final_success_rate"],
        normalised_score=info["normalised_score"], env_steps=info["env_steps"], updates=info["updates"],
        parameters=info["parameters"],
        # The untrained deterministic policy's score (the floor); absent in older runs.
        initial_score=_number(info.get("initial_score")),
        initial_normalised_score=_number(info.get("initial_normalised_score")),
        # Symptoms of a degenerate run (bench.learn.symptoms.degenerate_run_warnings), "; "-joined.
        warnings="; ".join(info.get("warnings", [])),
        # The critic's pooled explained variance over the last quarter (bench.learn.symptoms.
        # critic_explained_variance); NaN without a critic, and in runs written before it was recorded.
        critic_explained_variance=_number(info.get("critic_explained_variance")),
    )
    cost.update(train_seconds=info["train_seconds"], wall_seconds=info["wall_seconds"],
                steps_per_second=info["steps_per_second"])
    metrics = pd.read_parquet(directory / METRICS_FILE)
    curve = metrics[metrics["phase"] == "train"][[*CURVE_COLUMNS, "wall_time"]].copy()
    area = learning_curve_area(curve["env_steps"], curve["return_mean"], int(info["config"]["steps"]))
    result.update(learning_area=area, normalised_learning_area=spec.normalise(area))
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
    try:
        tables = aggregate(plan)
    except RunMismatch as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_parquet(out / f"{name}.parquet", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
