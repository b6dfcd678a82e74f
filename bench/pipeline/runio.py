"""Writing a run's results without ever leaving a half-written file behind.

Each file is written to a temporary name in the same directory and moved into
place with ``os.replace`` (atomic on POSIX). ``run.json`` is written last, so a
directory with a ``run.json`` holds a finished run; a crash leaves any earlier
finished result untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

METRICS_FILE = "metrics.parquet"
RUN_FILE = "run.json"


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
        with open(name, "w") as handle:
            json.dump(info, handle, indent=2, sort_keys=True, allow_nan=True)
            handle.write("\n")

    _atomic_write(directory / RUN_FILE, write)


def read_run(directory: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The metrics table and run info of a finished run."""
    with open(directory / RUN_FILE) as handle:
        info = json.load(handle)
    return pd.read_parquet(directory / METRICS_FILE), info
