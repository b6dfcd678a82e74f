"""Where a number came from: versions, commit, hardware.

Shared by training (``run.json``) and the report; torch is imported only by the
functions that describe it, so the paper side can ask for the commit without it.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.cache  # once per process: a seed batch records it for every seed
def git_commit() -> str:
    """The checked-out commit when first asked, with ``-dirty`` if tracked files changed; ``unknown`` outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_model() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
    }


def describe_machine(device: "torch.device") -> dict[str, object]:
    import torch

    return {
        "device": str(device),
        "cpu_model": cpu_model(),
        "gpu_model": gpu_model(),
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
    }
