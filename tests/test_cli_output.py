"""`python -m bench run` checks its output folders and device before training: one line, exit 2,
nothing trained or written; two runs never write one folder at once; it says when it trained more
steps than asked."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.learn.config import RunConfig
from bench.pipeline.runio import LOCK_FILE, OutFolderError, lock_out_folders
from tests.conftest import ROOT

QUICK = ["--env", "DigitMatch-10", "--agent", "mlp", "--num-envs", "16", "--eval-episodes", "2"]


def bench(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def refused(proc: subprocess.CompletedProcess, expected: str) -> None:
    """Exit 2 and exactly one line on stderr, containing ``expected``."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr[-2000:]


def finished_run(folder: Path, status: str = "finished") -> bytes:
    folder.mkdir(parents=True)
    text = json.dumps({"status": status, "final_score": 1.0}).encode()
    (folder / "run.json").write_bytes(text)
    return text


def test_out_that_is_an_existing_file_is_refused(tmp_path):
    target = tmp_path / "passwd"
    target.write_text("root:x:0:0\n")
    refused(bench("run", *QUICK, "--out", str(target)), f"--out '{target}' is an existing file; give a folder")
    assert target.read_text() == "root:x:0:0\n"


def test_out_inside_an_existing_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    out = tmp_path / "notes.txt" / "run"
    refused(bench("run", *QUICK, "--out", str(out)), f"--out '{out}' is inside '{tmp_path / 'notes.txt'}', an existing file")


def test_empty_out_is_refused():
    refused(bench("run", *QUICK, "--out", ""), "--out '' is empty")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_out_that_is_not_writable_is_refused(tmp_path):
    locked = tmp_path / "readonly"
    locked.mkdir(mode=0o500)
    refused(bench("run", *QUICK, "--out", str(locked / "run")), f"--out '{locked / 'run'}' is not writable")


def test_a_finished_run_is_not_overwritten_without_force(tmp_path):
    out = tmp_path / "done"
    before = finished_run(out)
    refused(bench("run", *QUICK, "--steps", "32", "--out", str(out)),
            f"--out '{out}' already holds a finished run (run.json status 'finished'); pass --force")
    assert (out / "run.json").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["run.json"]
    proc = bench("run", *QUICK, "--steps", "32", "--force", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["env_steps"] == 32


def test_a_failed_run_may_be_retried_without_force(tmp_path):
    out = tmp_path / "failed"
    finished_run(out, status="failed")
    proc = bench("run", *QUICK, "--steps", "32", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"


def test_every_seed_folder_of_a_batch_is_checked_before_training(tmp_path):
    finished_run(tmp_path / "seed3")
    proc = bench("run", *QUICK, "--steps", "32", "--seeds", "2", "3", "--out", f"{tmp_path}/seed{{seed}}")
    refused(proc, f"--out '{tmp_path / 'seed3'}' already holds a finished run")
    assert not (tmp_path / "seed2").exists()  # nothing trained, nothing written for the good seed either


def test_a_second_writer_on_a_locked_folder_exits_2(tmp_path):
    out = tmp_path / "busy"
    with lock_out_folders([out], force=False):
        assert (out / LOCK_FILE).exists()
        refused(bench("run", *QUICK, "--steps", "32", "--out", str(out)), f"--out '{out}' is in use by another run")
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing of the second run written
    assert not out.exists()  # the holder made it, wrote nothing, and left nothing behind


def test_a_seed_batch_waits_for_no_one_when_one_seed_folder_is_locked(tmp_path):
    with lock_out_folders([tmp_path / "seed5"], force=False):
        proc = bench("run", *QUICK, "--steps", "32", "--seeds", "4", "5", "--out", f"{tmp_path}/seed{{seed}}")
        refused(proc, f"--out '{tmp_path / 'seed5'}' is in use by another run")
    assert not (tmp_path / "seed4").exists()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    with lock_out_folders([tmp_path / "a"], force=False):
        with pytest.raises(OutFolderError, match="is in use by another run"):
            with lock_out_folders([tmp_path / "b", tmp_path / "a"], force=False):
                pass
        assert not (tmp_path / "b").exists()  # the first lock of the failed pair was released and cleaned up
    with lock_out_folders([tmp_path / "a"], force=False):  # released: free again
        pass


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("extra", [[], ["--backend", "torch", "--seeds", "0", "1"]])
def test_device_cuda_without_cuda_is_one_line(tmp_path, extra):
    out = f"{tmp_path}/seed{{seed}}" if extra else str(tmp_path / "run")
    refused(bench("run", *QUICK, "--device", "cuda", *extra, "--out", out),
            "device 'cuda' requested but torch.cuda.is_available() is False; valid choices on this machine: auto, cpu")
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_choices_of_every_field_that_has_them():
    text = " ".join(bench("run", "--help").stdout.split())  # undo argparse's line wrapping
    with_choices = [spec for spec in dataclasses.fields(RunConfig) if "choices" in spec.metadata]
    assert {spec.name for spec in with_choices} >= {"device", "baseline", "std_mode", "backend"}
    for spec in with_choices:
        flag = "--" + spec.name.replace("_", "-")
        entry = text[text.index(f"{flag} {spec.name.upper()} "):]
        listed = re.search(r"\(choices: ([^;]*);", entry).group(1)
        assert listed.replace("- ", "-").split(", ") == list(spec.metadata["choices"]), (flag, listed)


def test_asked_and_actual_steps_are_stated_when_they_differ(tmp_path):
    # DigitMatch episodes are one step long: an update of 16 environments is 16 steps.
    proc = bench("run", *QUICK, "--steps", "40", "--quiet", "--out", str(tmp_path / "uneven"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines() == ["mlp on DigitMatch-10 seed 0: asked for 40 steps, trained 48 "
                                                "(whole updates of complete episodes)"]
    assert json.loads((tmp_path / "uneven" / "run.json").read_text())["env_steps"] == 48
    proc = bench("run", *QUICK, "--steps", "48", "--quiet", "--out", str(tmp_path / "even"))
    assert proc.returncode == 0 and "asked for" not in proc.stdout


def test_a_folder_this_user_cannot_write_is_refused_even_when_root_runs_the_tests(tmp_path, monkeypatch):
    from bench.pipeline import runio

    monkeypatch.setattr(runio.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(OutFolderError, match=re.escape(f"--out '{tmp_path / 'run'}' is not writable")):
        runio.check_out_folder(tmp_path / "run", force=False)
