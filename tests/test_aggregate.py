"""``aggregate`` trusts no run folder blindly: each run.json must record the configuration the
plan resolves for its run, and a finished run's metrics must match the digest in its run.json.
A run that does not stops the command with one line naming its folder and what differs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bench import envs

from bench.pipeline import aggregate as agg
from bench.pipeline import runio
from bench.pipeline.plan import Plan, load_plan
from tests.conftest import ROOT


def smoke_config(results: Path, **profile) -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["profile"] = "smoke"
    config["profiles"]["smoke"].update(results=str(results), **profile)
    return config


def metrics_table(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"phase": ["train", "train", "eval"], "update": [0, 1, 1], "env_steps": [32, 64, 64],
                         "return_mean": [scale, 2 * scale, 2 * scale], "success_rate": [0.0, 0.5, 0.5],
                         "entropy": [0.7, 0.6, 0.6], "episodes": [4, 4, 8], "wall_time": [0.1, 0.2, 0.3]})


def write_finished(plan: Plan, run, **config_changes) -> Path:
    directory = Path(plan.directory(run))
    info = {"config": {**agg.planned_config(plan, run), **config_changes}, "seed": run.seed, "status": "finished",
            "final_score": 2.0, "final_success_rate": 0.5, "normalised_score": 0.5, "env_steps": 64, "updates": 2,
            "parameters": 10, "train_seconds": 1.0, "wall_seconds": 1.5, "steps_per_second": 64.0}
    runio.write_run(directory, metrics_table(), info)
    return directory


@pytest.fixture
def finished(tmp_path) -> tuple[dict, Plan]:
    """A smoke plan (results under tmp_path) with every run finished and its files as written."""
    config = smoke_config(tmp_path / "results")
    plan = load_plan(config)
    for run in plan.runs:
        write_finished(plan, run)
    return config, plan


def run_main(config: dict, out: Path, capsys) -> tuple[int, list[str]]:
    status = agg.main(["--config-json", json.dumps(config), "--out", str(out)])
    return status, capsys.readouterr().err.splitlines()


def edit_run_json(directory: Path, change) -> None:
    info = json.loads((directory / runio.RUN_FILE).read_text())
    change(info)
    (directory / runio.RUN_FILE).write_text(json.dumps(info))


def test_runs_as_written_are_tabled(finished, tmp_path, capsys):
    config, plan = finished
    status, errors = run_main(config, tmp_path / "tables", capsys)
    assert (status, errors) == (0, [])
    runs = pd.read_parquet(tmp_path / "tables" / "runs.parquet")
    assert (runs["status"] == "finished").all() and len(runs) == len(plan.runs)


def test_the_critics_explained_variance_is_tabled_and_nan_where_run_json_lacks_it(finished, tmp_path, capsys):
    config, plan = finished
    recorded, no_critic, undefined = plan.runs[:3]
    edit_run_json(Path(plan.directory(recorded)), lambda info: info.update(critic_explained_variance=0.62))
    edit_run_json(Path(plan.directory(no_critic)), lambda info: info.update(critic_explained_variance=None))
    edit_run_json(Path(plan.directory(undefined)), lambda info: info.update(critic_explained_variance=float("nan")))
    # Every other run.json was written before the key existed.
    status, errors = run_main(config, tmp_path / "tables", capsys)
    assert (status, errors) == (0, [])
    runs = pd.read_parquet(tmp_path / "tables" / "runs.parquet")
    column = runs.set_index(["env", "agent", "variant", "seed"])["critic_explained_variance"]
    assert column.dtype == float and len(column) == len(plan.runs) > 3
    first = (recorded.env, recorded.agent, recorded.variant, recorded.seed)
    assert column[first] == 0.62
    assert column.drop(index=[first]).isna().all()


def test_the_area_under_the_learning_curve_weights_each_update_by_its_steps_within_the_budget():
    # Updates of 100, 200 and 300 steps at returns 10, 20, 30: (1,000 + 4,000 + 9,000) / 600.
    area = agg.learning_curve_area(pd.Series([100, 300, 600]), pd.Series([10.0, 20.0, 30.0]), budget=600)
    assert area == pytest.approx(14_000 / 600)
    # The last batch ran 100 steps past a budget of 500: only its first 200 steps count.
    clipped = agg.learning_curve_area(pd.Series([100, 300, 600]), pd.Series([10.0, 20.0, 30.0]), budget=500)
    assert clipped == pytest.approx((1_000 + 4_000 + 30 * 200) / 500)
    assert np.isnan(agg.learning_curve_area(pd.Series([], dtype=float), pd.Series([], dtype=float), budget=500))


def test_every_finished_run_is_tabled_with_its_learning_area(finished, tmp_path, capsys):
    config, plan = finished
    status, _ = run_main(config, tmp_path / "tables", capsys)
    runs = pd.read_parquet(tmp_path / "tables" / "runs.parquet")
    # metrics_table: updates of 32 and 32 steps at training returns 1 and 2 (the eval row is not an update).
    assert status == 0 and (runs["learning_area"] == 1.5).all()
    first = runs.iloc[0]
    assert first["normalised_learning_area"] == pytest.approx(envs.spec_for(first["env"]).normalise(1.5))


@pytest.mark.parametrize("name, value, shown", [
    ("steps", 6000, "steps=6000, the plan says {planned}"),
    ("lr", 0.5, "lr=0.5, the plan says {planned}"),
    ("baseline", "none", "baseline=none, the plan says {planned}"),
    ("normalize_returns", 0, "normalize_returns=0, the plan says false"),  # a bool is not a number
])
def test_a_run_trained_with_other_settings_is_named_with_the_difference(finished, tmp_path, capsys, name, value, shown):
    config, plan = finished
    run = plan.runs[1]
    planned = agg.planned_config(plan, run)
    directory = write_finished(plan, run, **{name: value})
    status, errors = run_main(config, tmp_path / "tables", capsys)
    assert status == 1
    assert errors == [f"error: {directory}: run.json says {shown.format(planned=planned[name])}"]
    assert not (tmp_path / "tables" / "runs.parquet").exists()


def test_steps_mismatch_message_reads_as_in_the_issue(finished, tmp_path, capsys):
    config, plan = finished
    run = plan.runs[0]
    directory = write_finished(plan, run, steps=6000)
    status, errors = run_main(config, tmp_path / "tables", capsys)
    assert status == 1
    assert errors == [f"error: {directory}: run.json says steps=6000, the plan says {plan.steps_for(run.env)}"]


def test_a_run_json_of_another_seed_or_missing_a_setting_is_named(finished, tmp_path, capsys):
    config, plan = finished
    directory = Path(plan.directory(plan.runs[0]))
    edit_run_json(directory, lambda info: info.update(seed=7))
    assert run_main(config, tmp_path / "t1", capsys) == (1, [f"error: {directory}: run.json says seed=7, the plan says 0"])
    write_finished(plan, plan.runs[0])
    edit_run_json(directory, lambda info: info["config"].pop("gamma"))
    status, errors = run_main(config, tmp_path / "t2", capsys)
    assert status == 1 and errors[0].startswith(f"error: {directory}: run.json has no gamma, the plan says ")
    write_finished(plan, plan.runs[0])
    edit_run_json(directory, lambda info: info["config"].update(dropout=0.1))
    assert run_main(config, tmp_path / "t3", capsys) == (
        1, [f"error: {directory}: run.json has dropout=0.1, which is not a setting of this code"])


def _other_runs_numbers(path: Path) -> None:
    metrics_table(scale=3.0).to_parquet(path, index=False)


def _one_value_edited(path: Path) -> None:
    table = metrics_table()
    table.loc[1, "return_mean"] = 2.5  # same shape, still a parquet file
    table.to_parquet(path, index=False)


@pytest.mark.parametrize("change", [_other_runs_numbers, _one_value_edited])
def test_metrics_changed_after_the_run_are_caught_by_the_digest(finished, tmp_path, capsys, change):
    config, plan = finished
    directory = Path(plan.directory(plan.runs[-1]))
    change(directory / runio.METRICS_FILE)
    status, errors = run_main(config, tmp_path / "tables", capsys)
    assert status == 1 and len(errors) == 1
    assert errors[0].startswith(f"error: {directory}: metrics.parquet has sha256 ")
    assert "run.json says" in errors[0] and "changed after the run" in errors[0]


def test_unreadable_files_and_missing_digests_are_named(finished, tmp_path, capsys):
    config, plan = finished
    directory = Path(plan.directory(plan.runs[2]))
    (directory / runio.RUN_FILE).write_text('{"config": {')
    status, errors = run_main(config, tmp_path / "t1", capsys)
    assert status == 1 and errors[0].startswith(f"error: {directory}: run.json is not readable JSON (")
    write_finished(plan, plan.runs[2])
    edit_run_json(directory, lambda info: info.pop(runio.DIGEST_KEY))
    status, errors = run_main(config, tmp_path / "t2", capsys)
    assert status == 1 and errors[0].startswith(f"error: {directory}: run.json records no metrics_sha256")
    write_finished(plan, plan.runs[2])
    (directory / runio.METRICS_FILE).unlink()
    status, errors = run_main(config, tmp_path / "t3", capsys)
    assert status == 1 and errors[0].startswith(f"error: {directory}: metrics.parquet is not readable (FileNotFoundError")
    write_finished(plan, plan.runs[2])
    data = (directory / runio.METRICS_FILE).read_bytes()
    (directory / runio.METRICS_FILE).write_bytes(data[: len(data) // 2])  # a partial copy
    status, errors = run_main(config, tmp_path / "t4", capsys)
    assert status == 1 and errors[0].startswith(f"error: {directory}: metrics.parquet is not readable (ArrowInvalid")
    assert len(errors) == 1


def test_a_failed_run_is_listed_without_a_digest_check_but_its_config_is_checked(finished, tmp_path, capsys):
    config, plan = finished
    run = plan.runs[0]
    directory = Path(plan.directory(run))
    runio.write_run(directory, pd.DataFrame(), {"config": agg.planned_config(plan, run), "seed": run.seed,
                                                "status": "failed", "error": "run crashed: ValueError: bad shape"})
    (directory / runio.METRICS_FILE).write_bytes(b"partial")  # not checked: a failed run's metrics may be partial
    assert run_main(config, tmp_path / "t1", capsys) == (0, [])
    runs = pd.read_parquet(tmp_path / "t1" / "runs.parquet")
    failed = runs[(runs["env"] == run.env) & (runs["variant"] == run.variant) & (runs["seed"] == run.seed)].iloc[0]
    assert (runs["status"] == "failed").sum() == 1
    assert (failed["status"], failed["reason"]) == ("failed", "run crashed: ValueError: bad shape")
    assert failed["failure"] == "crashed" and set(runs.loc[runs["status"] == "finished", "failure"]) == {""}
    edit_run_json(directory, lambda info: info["config"].update(steps=6000))
    assert run_main(config, tmp_path / "t2", capsys) == (
        1, [f"error: {directory}: run.json says steps=6000, the plan says {plan.steps_for(run.env)}"])


@pytest.mark.parametrize("info, reason, kind", [
    ({"failure": "diverged"}, "run crashed: odd text", "diverged"),   # the field decides, not the text
    ({"failure": "crashed"}, "run diverged: update 3", "crashed"),
    ({}, "run diverged: update 3: loss is nan", "diverged"),          # run.json of older sessions
    ({}, "error: run diverged: update 3: loss is nan", "diverged"),   # a job log's last error line
    ({}, "run crashed: ValueError", "crashed"),
    ({}, "Killed", "crashed"),
])
def test_a_failure_is_diverged_or_crashed_from_its_field_then_its_reason(info, reason, kind):
    assert agg.failure_kind(info, reason) == kind


def test_a_missing_run_is_listed_as_missing(finished, tmp_path, capsys):
    config, plan = finished
    run = plan.runs[3]
    for path in Path(plan.directory(run)).iterdir():
        path.unlink()
    assert run_main(config, tmp_path / "t", capsys) == (0, [])
    runs = pd.read_parquet(tmp_path / "t" / "runs.parquet")
    assert list(runs["status"]).count("missing") == 1


def test_a_seed_deleted_from_a_finished_seed_block_is_named(tmp_path, capsys):
    config = smoke_config(tmp_path / "results", seeds_per_job=2)
    plan = load_plan(config)
    for run in plan.runs:
        write_finished(plan, run)
    assert run_main(config, tmp_path / "t1", capsys) == (0, [])
    directory = Path(plan.directory(plan.runs[1]))
    for path in directory.iterdir():
        path.unlink()
    directory.rmdir()
    block = directory.parent
    assert run_main(config, tmp_path / "t2", capsys) == (
        1, [f"error: {directory}: run.json is missing but its seed block {block} is there; "
            "delete the block's folder to retrain it"])


@pytest.mark.parametrize("profile", ["quick", "batched", "tune"])
def test_the_planned_config_is_what_the_cli_trains_with_the_plans_arguments(profile):
    """``planned_config`` and ``Plan.arguments`` agree for every run: a run trained by the pipeline passes the check."""
    import dataclasses
    import shlex

    from bench import cli
    from bench.learn.config import resolve_steps, validate

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    plan = load_plan({**config, "profile": profile})
    parser = cli.build_parser()
    for run in plan.runs:
        args = parser.parse_args(["run", *shlex.split(plan.arguments(run)), "--out", "x"])
        trained = resolve_steps(validate(cli._config_from(args)))
        assert json.loads(json.dumps(dataclasses.asdict(trained))) == agg.planned_config(plan, run), run
