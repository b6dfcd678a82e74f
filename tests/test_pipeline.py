"""The Snakemake pipeline: job counts, the quick profile end to end, adding a variant.

The end-to-end tests (marker ``e2e``) train for real and take minutes; CI runs
them after the unit tests (see run-tests.sh).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.pipeline.plan import Plan, load_plan
from tests.conftest import ROOT, copy_repository

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
QUICK_REPORT = ROOT / "results" / "quick" / "report" / "index.html"


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def planned_jobs(output: str) -> dict[str, int]:
    """Rule -> job count from the job-stats table of a dry run."""
    counts = {}
    for line in output.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match:
            counts[match.group(1)] = int(match.group(2))
    return counts


def config_for(profile: str) -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["profile"] = profile
    return config


def dry_run(profile: str) -> tuple[Plan, dict[str, int], str]:
    """The plan of ``profile``, and the job counts and output of a forced dry run of it."""
    proc = snakemake("--dry-run", "--forceall", "--cores", "1", "--config", f"profile={profile}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return load_plan(config_for(profile)), planned_jobs(proc.stdout), proc.stdout


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_dry_run_job_counts(profile):
    plan, counts, _ = dry_run(profile)
    assert counts["train"] == len(plan.runs)
    assert counts["doctor"] == len(plan.agents)
    assert counts["total"] == len(plan.runs) + len(plan.agents) + 5  # aggregate, analyse, figures, report, all
    if profile == "full":
        assert counts["train"] >= 10 * 50  # >= 10 seeds per cell


@pytest.mark.parametrize("profile", ["batched", "gpu"])
def test_seed_blocks_make_one_job_per_block(profile):
    plan, counts, output = dry_run(profile)
    assert "train" not in counts
    assert counts["train_seeds"] == len(plan.jobs) == len(plan.runs) // plan.seeds_per_job
    # Only the GPU profile's jobs ask for a GPU (SLURM turns the resource into --gpus).
    assert ("gpu=1" in output) == (profile == "gpu")


def test_bad_config_stops_snakemake_before_any_job(tmp_path):
    proc = snakemake("--dry-run", "--cores", "1", "--config", "profile=huge", timeout=300)
    assert proc.returncode != 0
    assert "unknown profile 'huge'; valid choices: full, quick" in proc.stderr + proc.stdout


@pytest.fixture(scope="session")
def quick_report() -> Path:
    """Run the quick profile once (a no-op when it is already up to date)."""
    proc = snakemake("--cores", "2", "--config", "profile=quick", timeout=3000)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return QUICK_REPORT


@pytest.mark.e2e
def test_quick_profile_end_to_end(quick_report):
    plan = load_plan(config_for("quick"))
    runs = pd.read_parquet(ROOT / plan.results / "tables" / "runs.parquet")
    assert len(runs) == len(plan.runs) and (runs["status"] == "finished").all()
    analysis = json.loads((ROOT / plan.results / "analysis" / "analysis.json").read_text())
    assert set(analysis["experiments"]) == set(plan.experiments)
    assert analysis["missing"] == [] and analysis["abstract"]
    html = quick_report.read_text()
    for name in plan.agents + sorted({r.env for r in plan.runs}):
        assert name in html
    assert "http://" not in html and "https://" not in html  # self-contained


@pytest.mark.e2e
def test_adding_a_variant_runs_only_its_jobs(tmp_path):
    copy = copy_repository(tmp_path / "repo")
    config = yaml.safe_load((copy / "config" / "config.yaml").read_text())
    config["profiles"]["tiny"] = {"seeds": 1, "budget_scale": 0.01, "results": "results/tiny"}
    config["experiments"] = {"memory": {"agents": ["mlp", "gru"], "envs": ["CartPole-v1"]}}
    config["profile"] = "tiny"
    (copy / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    first = snakemake("--cores", "2", cwd=copy, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]

    # The documented path: one file in agents/ ...
    source = (copy / "agents" / "lstm.py").read_text().replace('@register("lstm")', '@register("lstm_new")')
    (copy / "agents" / "lstm_new.py").write_text(source.replace("class LSTMAgent", "class NewLSTMAgent"))
    # ... and one line of config.
    text = (copy / "config" / "config.yaml").read_text()
    text = text.replace("    - gru\n", "    - gru\n    - lstm_new\n", 1)
    (copy / "config" / "config.yaml").write_text(text)

    dry = snakemake("--dry-run", "--cores", "2", cwd=copy, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    train_jobs = re.findall(r"rule train:.*?wildcards: ([^\n]+)", dry.stdout, flags=re.S)
    assert train_jobs and all("agent=lstm_new" in job for job in train_jobs), train_jobs
    counts = planned_jobs(dry.stdout)
    assert counts["train"] == 1 and counts["doctor"] == 1

    second = snakemake("--cores", "2", cwd=copy, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    html = (copy / "results" / "tiny" / "report" / "index.html").read_text()
    assert "lstm_new" in html and "gru" in html and "mlp" in html


def _smoke_tables(tmp_path: Path, name: str, seeds_per_job: int) -> dict[str, pd.DataFrame]:
    """The smoke profile on the torch backend with ``seeds_per_job``, in a copy of the repository."""
    copy = copy_repository(tmp_path / name)
    config = yaml.safe_load((copy / "config" / "config.yaml").read_text())
    config["profiles"]["smoke"].update(seeds=4, seeds_per_job=seeds_per_job, options={"backend": "torch"})
    (copy / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake("--cores", "2", "--config", "profile=smoke", cwd=copy, timeout=1200)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    tables = copy / "results" / "smoke" / "tables"
    return {table: pd.read_parquet(tables / f"{table}.parquet") for table in ("runs", "curves", "membership")}


@pytest.mark.e2e
def test_grouping_seeds_into_jobs_does_not_change_the_results(tmp_path):
    one = _smoke_tables(tmp_path, "one-seed-per-job", 1)
    blocks = _smoke_tables(tmp_path, "three-seeds-per-job", 3)  # blocks 0-2 and 3: uneven on purpose
    for table in ("runs", "membership"):
        assert list(one[table].columns) == list(blocks[table].columns)
    assert (one["runs"]["status"] == "finished").all() and len(one["runs"]) > 0
    pd.testing.assert_frame_equal(one["membership"], blocks["membership"], check_exact=True)
    # Bit for bit whatever the grouping, Gaussian policies (GaussianTarget) included.
    for table in ("runs", "curves"):
        pd.testing.assert_frame_equal(one[table], blocks[table], check_exact=True)


@pytest.mark.e2e
def test_a_two_layer_gru_runs_through_the_batched_profile(tmp_path):
    # Thread 002's model, one file in agents/, on the seed-batched (vmap) path the batched
    # and gpu profiles take: doctor, training, analysis and report.
    copy = copy_repository(tmp_path / "repo")
    config = yaml.safe_load((copy / "config" / "config.yaml").read_text())
    batched = dict(config["profiles"]["batched"], seeds=2, seeds_per_job=2, budget_scale=0.01,
                   results="results/tiny-batched", experiments=["memory"])
    config["profiles"]["tiny-batched"] = batched
    config["experiments"] = {"memory": dict(config["experiments"]["memory"], agents=["gru", "gru2"],
                                            envs=["CueRecall"], pairs=[])}
    config["profile"] = "tiny-batched"
    (copy / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    proc = snakemake("--cores", "2", cwd=copy, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = copy / "results" / "tiny-batched"
    doctor = pd.read_csv(out / "doctor" / "gru2.csv")
    assert set(doctor.loc[doctor["check"] == "seed_batched", "status"]) == {"PASS"}
    runs = pd.read_parquet(out / "tables" / "runs.parquet")
    gru2 = runs[runs["agent"] == "gru2"]
    assert len(gru2) == 2 and (gru2["status"] == "finished").all()
    info = json.loads(next((out / "runs" / "CueRecall" / "gru2").rglob("run.json")).read_text())
    assert info["config"]["backend"] == "torch"
    assert "gru2" in (out / "report" / "index.html").read_text()
