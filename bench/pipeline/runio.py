"""Writing a run's results without ever leaving a half-written file behind.

Each file is written to a temporary name in the same directory and moved into
place with ``os.replace`` (atomic on POSIX). ``run.json`` is written last, so a
directory with a ``run.json`` holds a finished run; a crash leaves any earlier
finished result untouched. ``run.json`` records the SHA-256 of the metrics file
it was written with (``metrics_sha256``), so a metrics file that was replaced or
damaged afterwards no longer matches its run (``bench.pipeline.aggregate`` checks).

Before training, the output folders are checked (a folder, writable, not holding
a finished run unless forced) and locked (``flock`` on a file inside each), so
two runs writing one folder cannot interleave their files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

METRICS_FILE = "metrics.parquet"
RUN_FILE = "run.json"
#: The key of run.json holding the SHA-256 (hex) of metrics.parquet's bytes.
DIGEST_KEY = "metrics_sha256"
#: Held (flock) by the run writing the folder; removed when it is done.
LOCK_FILE = ".bench-run.lock"


class OutFolderError(ValueError):
    """An output folder that cannot take this run; the message is one line meant for the user."""


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(temp_name)
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600
        os.replace(temp_name, path)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def write_metrics(directory: Path, metrics: pd.DataFrame) -> None:
    _atomic_write(directory / METRICS_FILE, lambda name: metrics.to_parquet(name, index=False))


def write_run_info(directory: Path, info: dict[str, Any]) -> None:
    def write(name: str) -> None:
        with open(name, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2, sort_keys=True, allow_nan=True)
            handle.write("\n")

    _atomic_write(directory / RUN_FILE, write)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_run(directory: Path, metrics: pd.DataFrame, info: dict[str, Any]) -> None:
    """A run's files: metrics first, then ``run.json`` (with the metrics file's digest) last."""
    write_metrics(directory, metrics)
    write_run_info(directory, {**info, DIGEST_KEY: file_sha256(directory / METRICS_FILE)})


def read_run(directory: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The metrics table and run info of a finished run."""
    with open(directory / RUN_FILE) as handle:
        info = json.load(handle)
    return pd.read_parquet(directory / METRICS_FILE), info


def _nearest_existing(path: Path) -> Path:
    return next((p for p in (path, *path.parents) if p.exists()), Path("."))


def holds_finished_run(folder: Path) -> bool:
    """A ``run.json`` with status ``finished`` (a failed run may be retried)."""
    try:
        with open(folder / RUN_FILE) as handle:
            return json.load(handle).get("status") == "finished"
    except (OSError, ValueError, AttributeError):
        return False


def check_out_folder(folder: Path, force: bool) -> None:
    """Refuse, before any training, a folder the run could not write or must not overwrite."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        where = "is an existing file" if existing == folder else f"is inside {str(existing)!r}, an existing file"
        raise OutFolderError(f"--out {str(folder)!r} {where}; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutFolderError(f"--out {str(folder)!r} is not writable ({str(existing)!r} is not writable by this user)")
    if not force and holds_finished_run(folder):
        raise OutFolderError(f"--out {str(folder)!r} already holds a finished run ({RUN_FILE} status 'finished'); "
                             "pass --force to replace it, or choose another folder")


@contextmanager
def _locked(folder: Path, force: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if need be, and removed again if left empty)."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutFolderError(f"--out {str(folder)!r} cannot be created: {error.strerror}") from None
    path = folder / LOCK_FILE
    try:
        handle = open(path, "a")
    except OSError as error:  # e.g. the folder was removed by a run that just gave up on it
        raise OutFolderError(f"--out {str(folder)!r} cannot be locked: {error.strerror}; try again") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutFolderError(f"--out {str(folder)!r} is in use by another run (it holds {LOCK_FILE}); "
                                 "wait for it to finish, or choose another folder") from None
        # The previous holder removes the file when done: a lock on a removed file guards nothing.
        if not path.exists() or os.fstat(handle.fileno()).st_ino != path.stat().st_ino:
            raise OutFolderError(f"--out {str(folder)!r} was in use by another run a moment ago; try again")
        try:
            # Checked again under the lock: another run may have finished here since the first check.
            check_out_folder(folder, force)
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        handle.close()
        for made in created:  # deepest first; stop at the first that holds something
            try:
                made.rmdir()
            except OSError:
                break


@contextmanager
def lock_out_folders(folders: list[Path], force: bool) -> Iterator[None]:
    """Lock every folder of a run (one per seed of a seed batch), in order, for the duration of the run."""
    with ExitStack() as stack:
        for folder in folders:
            stack.enter_context(_locked(folder, force))
        yield
