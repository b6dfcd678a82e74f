"""Shared fixtures: the repository root on sys.path, one torch thread."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


def copy_repository(destination: Path) -> Path:
    """A copy of the working tree without environments, results or git metadata."""
    import shutil

    shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(".venv", "results", ".snakemake", ".git", "__pycache__"))
    return destination
