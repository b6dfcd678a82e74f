"""The wall: the paper side (bench.paper) reads tables only, never torch, agents or the training code
(bench.learn.symptoms, the run-health rules in pandas, excepted).

The static check of every import is tests/test_architecture.py's; this one runs the
analysis, the figures and the report on a tiny hand-made tables folder in a fresh
interpreter and looks at sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


from tests.conftest import ROOT
from tests.test_analysis import CONFIG, make_context

KEY = ["env", "agent", "variant", "seed"]
COSTS = ["steps_per_second", "wall_seconds", "bench_seconds", "max_rss_mb"]


def write_tables(folder: Path) -> None:
    """A tiny aggregate output (2 envs x 3 variants x 4 seeds) in the layout bench.pipeline.aggregate writes."""
    context = make_context()
    runs = context.runs.assign(family="control", partially_observable=False, updates=10,
                               initial_normalised_score=0.0)
    costs = runs[KEY + COSTS].assign(device="cpu", cpu_model="test cpu", gpu_model=None, git_commit="abc")
    folder.mkdir(parents=True)
    runs.drop(columns=COSTS).to_parquet(folder / "runs.parquet", index=False)
    costs.to_parquet(folder / "costs.parquet", index=False)
    context.curves.drop(columns="wall_time").to_parquet(folder / "curves.parquet", index=False)
    context.curves[KEY + ["update", "wall_time"]].to_parquet(folder / "curve_times.parquet", index=False)
    context.membership.to_parquet(folder / "membership.parquet", index=False)


SCRIPT = """
import importlib, json, pkgutil, sys
import bench.paper
modules = [m.name for m in pkgutil.walk_packages(bench.paper.__path__, "bench.paper.")]
for name in modules:
    importlib.import_module(name)
from bench.paper import analysis, figures, report
from bench.paper import questions
questions.questions()  # discovers every question module
config, root = sys.argv[1], sys.argv[2]
analysis.main(["--config-json", config, "--tables", root + "/tables", "--out", root + "/analysis"])
figures.main(["--analysis", root + "/analysis", "--out", root + "/figures"])
report.main(["--config-json", config, "--analysis", root + "/analysis", "--tables", root + "/tables",
             "--figures", root + "/figures", "--out", root + "/report/index.html"])
# bench.learn.symptoms: the run-health rules, pandas only (tests/test_architecture.py keeps it so).
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "agents") or m.startswith("bench.learn.")
                and m not in ("bench.learn.config", "bench.learn.symptoms"))
print(json.dumps({"modules": modules, "leaked": leaked}))
"""


def run_paper_side(tmp_path: Path) -> dict:
    write_tables(tmp_path / "tables")
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(CONFIG), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_analysis_figures_and_report_run_without_torch_or_agents(tmp_path):
    result = run_paper_side(tmp_path)
    assert result["leaked"] == []
    assert "bench.paper.questions.hidden_state" in result["modules"]
    html = (tmp_path / "report" / "index.html").read_text()
    assert "Two tanh layers" in html  # the description read from agents/mlp.py's source
    assert "smoke/quick run" in html
    # The tiny config is not config/config.yaml: the report writes it out and names it in the command.
    assert (tmp_path / "report" / "config.resolved.yaml").exists()
    assert "--configfile" in html
