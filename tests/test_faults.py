"""Faults: a SIGKILL in the middle of training, a diverging run, end-to-end determinism,
and a deleted run folder that the next invocation retrains.

Each test works on its own copy of the repository with the one-minute ``smoke``
profile; those that train are marked ``e2e``, the dry runs (``snakemake -n``) are not.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import copy_repository

PROFILE = "smoke"
RESULT_TABLES = ("runs", "curves", "membership")


def snakemake(copy: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--config", f"profile={PROFILE}", *args], cwd=copy,
                          capture_output=True, text=True, timeout=timeout)


def tables(copy: Path) -> dict[str, bytes]:
    return {name: (copy / "results" / PROFILE / "tables" / f"{name}.parquet").read_bytes() for name in RESULT_TABLES}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    """The smoke profile's result tables from one uninterrupted run."""
    copy = copy_repository(tmp_path_factory.mktemp("reference") / "repo")
    proc = snakemake(copy, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tables(copy)


@pytest.mark.e2e
def test_same_profile_twice_gives_byte_identical_tables(reference, tmp_path):
    copy = copy_repository(tmp_path / "repo")
    proc = snakemake(copy, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tables(copy) == reference


@pytest.mark.e2e
def test_sigkill_mid_training_then_resume_finishes_only_missing_runs(reference, tmp_path):
    copy = copy_repository(tmp_path / "repo")
    runs_dir = copy / "results" / PROFILE / "runs"
    process = subprocess.Popen([sys.executable, "-m", "snakemake", "--config", f"profile={PROFILE}", "--cores", "1"],
                               cwd=copy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(runs_dir.rglob("run.json"))) < 2:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the whole pipeline, training jobs included
    process.wait(timeout=30)
    written = list(runs_dir.rglob("run.json"))
    total = 6  # bandits: 3 environments x 1 agent x 2 seeds
    assert 2 <= len(written) < total, "the kill must land in the middle of training"
    # Nothing half-written sits under a final name: every run.json has complete metrics beside it.
    for path in written:
        assert json.loads(path.read_text())["status"] == "finished"
        pd.read_parquet(path.parent / "metrics.parquet")
    # Jobs Snakemake recorded as complete are kept; one killed between writing its
    # files and being recorded is incomplete, and is rerun (deterministically).
    # (Snakemake keeps a marker per output of a job it has not recorded as finished,
    # named by the output's path in base64.)
    markers = (copy / ".snakemake" / "incomplete").glob("*")
    incomplete = {copy / base64.b64decode(marker.name).decode() for marker in markers}
    finished = {path: path.stat().st_mtime_ns for path in written if path not in incomplete}
    assert finished

    # What a user does after a hard kill: release Snakemake's lock, run the same command again.
    assert snakemake(copy, "--unlock").returncode == 0
    proc = snakemake(copy, "--cores", "2", "--rerun-incomplete")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The runs finished before the kill were not retrained; the rest were.
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert len(list(runs_dir.rglob("run.json"))) == total
    assert tables(copy) == reference


@pytest.mark.e2e
def test_a_diverging_run_is_reported_as_failed_and_the_others_finish(tmp_path):
    copy = copy_repository(tmp_path / "repo")
    config_path = copy / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    # A critic step size of 1e30 overflows its squared error at the first update: those runs diverge.
    config["experiments"]["bandits"]["options"] = {"value_lr": [0.01, 1.0e30], "max_grad_norm": [0.0]}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake(copy, "--cores", "2", "--keep-going")
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = pd.read_parquet(copy / "results" / PROFILE / "tables" / "runs.parquet")
    failed = runs[runs["status"] == "failed"]
    assert len(failed) > 0 and (runs["status"] == "finished").sum() > 0
    assert failed["reason"].str.contains(r"run diverged: update \d+: \w+ is", regex=True).all()
    assert (failed["failure"] == "diverged").all()
    logs = (copy / "results" / PROFILE / "logs" / "train").rglob("*.log")
    assert any("error: run diverged: update" in path.read_text() for path in logs)  # the partial log is kept
    html = (copy / "results" / PROFILE / "report" / "index.html").read_text()
    assert "Missing or failed runs" in html and "run diverged" in html


def fake_results(copy: Path) -> list[Path]:
    """Every output of the smoke profile as an empty file, each newer than what it is made from
    (what a finished pipeline leaves); returns the run folders (one per seed)."""
    sys.path.insert(0, str(copy))
    try:
        from bench.pipeline.plan import load_plan

        config = {**yaml.safe_load((copy / "config" / "config.yaml").read_text()), "profile": PROFILE}
        plan = load_plan(config, check_registries=False)
    finally:
        sys.path.remove(str(copy))
    results = copy / plan.results
    start = time.time() + 10  # after every file of the copy (a fresh clone is as new as this test)

    def touch(paths, age: int) -> None:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            os.utime(path, (start + age, start + age))

    touch([results / "doctor" / f"{agent}.csv" for agent in plan.agents], 0)
    folders = [copy / plan.directory(run) for run in plan.runs]
    touch([folder / name for folder in folders for name in ("metrics.parquet", "run.json")], 10)
    for job in plan.jobs:
        if job.block:
            os.utime(copy / job.directory(plan.results), (start + 20, start + 20))
    touch([results / "tables" / f"{name}.parquet" for name in (*RESULT_TABLES, "costs", "curve_times")], 30)
    touch([results / "analysis" / name for name in ("analysis.json", "curve_summary.parquet", "profiles.parquet")], 40)
    (results / "figures").mkdir()
    os.utime(results / "figures", (start + 50, start + 50))
    touch([results / "report" / "index.html"], 60)
    return folders


def planned_jobs(copy: Path) -> dict[str, int]:
    """Rule name -> number of jobs ``snakemake -n`` plans."""
    proc = snakemake(copy, "-n", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    output = proc.stdout + proc.stderr
    if "Nothing to be done" in output:
        return {}
    table = output[output.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


@pytest.mark.parametrize("seeds_per_job", [1, 2])
def test_a_deleted_run_folder_is_retrained_though_the_report_exists(tmp_path, seeds_per_job):
    import shutil

    copy = copy_repository(tmp_path / "repo")
    if seeds_per_job > 1:
        config_path = copy / "config" / "config.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["profiles"][PROFILE]["seeds_per_job"] = seeds_per_job
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    folders = fake_results(copy)
    assert planned_jobs(copy) == {}  # a finished pipeline: nothing to do
    # The README's advice to retry a run: delete its folder (a seed block's folder when runs train in blocks).
    deleted = folders[1] if seeds_per_job == 1 else folders[1].parent
    shutil.rmtree(deleted)
    train = "train" if seeds_per_job == 1 else "train_seeds"
    assert planned_jobs(copy) == {train: 1, "aggregate": 1, "analyse": 1, "figures": 1, "report": 1, "all": 1}
