"""A run's files prove what they are (run.json records its metrics file's SHA-256), and a
crash of training is a result: recorded as a failed run with its one-line cause."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from bench import cli
from bench.pipeline import runio

RUN = ["run", "--env", "CartPole-v1", "--agent", "mlp", "--steps", "64", "--quiet"]


@pytest.mark.parametrize("metrics", [pd.DataFrame({"update": [0, 1], "return_mean": [1.0, 2.5]}), pd.DataFrame()],
                         ids=["two-updates", "empty"])
def test_run_json_records_the_sha256_of_the_metrics_file_written_before_it(tmp_path, metrics):
    runio.write_run(tmp_path, metrics, {"status": "finished", "seed": 3})
    info = json.loads((tmp_path / runio.RUN_FILE).read_text())
    assert info[runio.DIGEST_KEY] == hashlib.sha256((tmp_path / runio.METRICS_FILE).read_bytes()).hexdigest()
    assert info["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [runio.METRICS_FILE, runio.RUN_FILE]  # no temporary left


def test_different_metrics_give_different_digests(tmp_path):
    runio.write_run(tmp_path / "a", pd.DataFrame({"x": [1.0]}), {})
    runio.write_run(tmp_path / "b", pd.DataFrame({"x": [1.5]}), {})
    digests = [json.loads((tmp_path / name / runio.RUN_FILE).read_text())[runio.DIGEST_KEY] for name in "ab"]
    assert digests[0] != digests[1]


def _raise(error: BaseException):
    def fake(*args, **kwargs):
        raise error
    return fake


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("error, cause", [
    (ValueError("policy logits have shape (3,)\nexpected (2,)"),
     "run crashed: ValueError: policy logits have shape (3,) expected (2,)"),
    (KeyError("hidden"), "run crashed: KeyError: 'hidden'"),
])
def test_a_crash_of_training_is_recorded_as_a_failed_run_with_its_one_line_cause(tmp_path, monkeypatch, capsys,
                                                                                 error, cause):
    monkeypatch.setattr("bench.learn.train.train", _raise(error))
    out = tmp_path / "seed0"
    assert cli.main([*RUN, "--record-failure", "--out", str(out)]) == 0  # the pipeline goes on; the report lists it
    info = json.loads((out / runio.RUN_FILE).read_text())
    assert info["status"] == "failed" and info["error"] == cause and info["failure"] == "crashed"
    assert info["config"]["agent"] == "mlp" and info["seed"] == 0
    assert info[runio.DIGEST_KEY] == hashlib.sha256((out / runio.METRICS_FILE).read_bytes()).hexdigest()
    stderr = capsys.readouterr().err
    assert _error_lines(stderr) == [f"error: {cause}"]  # the last error line: what aggregate reads from the log
    assert "Traceback" in stderr  # and the traceback, for whoever fixes it
    assert not runio.holds_finished_run(out)  # a failed run may be retried (after the fix) without --force


def test_a_crashed_seed_batch_records_every_seed_as_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bench.learn.seed_batch.train_seed_batch", _raise(RuntimeError("agent exploded")))
    pattern = str(tmp_path / "seed{seed}")
    assert cli.main([*RUN, "--backend", "torch", "--seeds", "0", "1", "--record-failure", "--out", pattern]) == 0
    for seed in (0, 1):
        info = json.loads((tmp_path / f"seed{seed}" / runio.RUN_FILE).read_text())
        assert (info["status"], info["seed"], info["error"]) == ("failed", seed, "run crashed: RuntimeError: agent exploded")
        assert info["failure"] == "crashed"
    assert _error_lines(capsys.readouterr().err) == ["error: run crashed: RuntimeError: agent exploded"] * 2


def test_a_diverged_run_says_so_in_its_failure_field(tmp_path, monkeypatch):
    from bench.learn.train import TrainingDiverged

    monkeypatch.setattr("bench.learn.train.train", _raise(TrainingDiverged("update 3: loss is nan (not finite)")))
    out = tmp_path / "seed0"
    assert cli.main([*RUN, "--record-failure", "--out", str(out)]) == 0
    info = json.loads((out / runio.RUN_FILE).read_text())
    # The kind is a field, not a phrase of the reason: the report counts a diverged seed as unsolved.
    assert (info["status"], info["failure"]) == ("failed", "diverged")
    assert info["error"] == "run diverged: update 3: loss is nan (not finite)"


def test_without_record_failure_a_crash_exits_1_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bench.learn.train.train", _raise(ValueError("bad shape")))
    out = tmp_path / "seed0"
    assert cli.main([*RUN, "--out", str(out)]) == 1
    assert not (out / runio.RUN_FILE).exists()
    assert _error_lines(capsys.readouterr().err) == ["error: run crashed: ValueError: bad shape"]


@pytest.mark.parametrize("error", [MemoryError(), type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory")],
                         ids=["host", "device"])
def test_out_of_memory_is_not_recorded_so_the_job_is_retried(tmp_path, monkeypatch, error):
    monkeypatch.setattr("bench.learn.train.train", _raise(error))
    out = tmp_path / "seed0"
    with pytest.raises(type(error)):
        cli.main([*RUN, "--record-failure", "--out", str(out)])
    assert not (out / runio.RUN_FILE).exists()
