"""Render the self-contained HTML report (Jinja2, autoescaped, figures inlined).

``python -m bench.paper.report --config-json JSON --analysis DIR --tables DIR --figures DIR --out FILE``.
Everything shown is computed in Python (``bench.paper.analysis`` and the set-up tables
here); the template only lays it out. Every string is escaped by Jinja2's
autoescape, so a name from the configuration can never become markup.

The report reads tables only: parameter counts come from the runs table (each
run records its own), agent descriptions from the agents' source files
(``bench.paper.sources``); neither torch nor ``agents`` is imported.

When the effective configuration differs from ``config/config.yaml`` with only the
profile chosen, the resolved configuration is written next to the report as
``config.resolved.yaml`` and the printed command passes it with ``--configfile``.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import jinja2
import pandas as pd
import yaml

from bench import envs
from bench.learn.config import RunConfig, field_help
from bench.paper.sources import agent_facts
from bench.paper.text import fmt
from bench.pipeline.plan import Plan, load_plan
from bench.pipeline.runio import file_sha256
from bench.provenance import REPO_ROOT, git_commit

TEMPLATES = REPO_ROOT / "report" / "templates"
BASE_CONFIG = REPO_ROOT / "config" / "config.yaml"
RESOLVED_CONFIG = "config.resolved.yaml"
PACKAGES = ("torch", "gymnasium", "numpy", "pandas", "scipy", "seaborn", "matplotlib", "snakemake", "rliable", "jinja2", "pyarrow")


def describe_space(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.Box):
        return f"Box{tuple(space.shape)}"
    return str(space)


def environment_table(plan: Plan, floors: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One row per environment of the plan; ``floor`` is the untrained policy's score from the analysis."""
    floors = floors or {}
    rows = []
    for env_id in dict.fromkeys(run.env for run in plan.runs):
        spec = envs.spec_for(env_id)
        env = gym.make(env_id)
        rows.append({
            "env": env_id, "description": spec.description, "family": spec.family,
            "observation": describe_space(env.observation_space), "action": describe_space(env.action_space),
            "partial": "yes" if spec.partially_observable else "no",
            "random": spec.random_score, "target": spec.target_score, "steps": plan.steps_for(env_id),
            "floor": floors.get(env_id, {}).get("text", "floor not measured"),
            "max_steps": env.spec.max_episode_steps if env.spec else None,
        })
        env.close()
    return rows


def agent_table(plan: Plan, parameters: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Per agent: description and memory (from its source file), trainable parameters recorded by its
    runs (whole policy; ``min-max`` over environments), without and with the critic."""
    parameters = parameters or {}
    rows = []
    for name in plan.agents:
        counts = parameters.get(name, {})
        rows.append({**agent_facts(name), "actor_parameters": counts.get("actor", "not run"),
                     "with_critic": counts.get("with_critic", "not run")})
    return rows


def hyperparameters(config: dict[str, Any]) -> list[dict[str, Any]]:
    overrides = config.get("defaults", {})
    helps = field_help()
    rows = []
    for spec in dataclasses.fields(RunConfig):
        if spec.name in ("env", "agent", "seed", "steps"):
            continue
        rows.append({"name": spec.name, "value": overrides.get(spec.name, getattr(RunConfig(), spec.name)), "help": helps[spec.name]})
    return rows


def environment_settings(config: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """One row per environment that ran: its budget (steps, at this profile's scale) and the settings
    of ``env_settings`` that every variant on it gets."""
    settings = config.get("env_settings", {})
    rows = []
    for env in dict.fromkeys(run.env for run in plan.runs):
        own = {k: v for k, v in settings.get(env, {}).items() if k != "budget"}
        rows.append({"env": env, "steps": plan.steps_for(env),
                     "settings": ", ".join(f"{k}={v}" for k, v in sorted(own.items())) or "defaults"})
    return rows


def reproduce_command(config: dict[str, Any], report: Path | None, base: Path = BASE_CONFIG) -> dict[str, Any]:
    """The command that reproduces this run as it was run.

    ``snakemake --cores N --config profile=P`` when the effective configuration equals
    ``base`` with only ``profile`` set; otherwise the resolved configuration (as YAML) and
    ``snakemake --cores N --configfile <report folder>/config.resolved.yaml``.
    """
    defaults = json.loads(json.dumps(yaml.safe_load(base.read_text())))
    effective = json.loads(json.dumps(config))
    if effective == {**defaults, "profile": effective.get("profile")}:
        return {"command": f"snakemake --cores N --config profile={effective['profile']}", "resolved": None, "path": None}
    folder = report.parent if report is not None else Path(".")
    path = folder / RESOLVED_CONFIG
    try:
        shown = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        shown = path.resolve()
    return {"command": f"snakemake --cores N --configfile {shown}", "path": str(path),
            "resolved": yaml.safe_dump(effective, sort_keys=False, default_flow_style=False)}


def subset_note(plan: Plan) -> str:
    """For a subset run (``only_experiments`` / ``only_envs`` / ``only_agents``), one sentence saying
    what of the resolved configuration ran; empty for a whole profile. The configuration keeps the
    experiments the subset left out (it reproduces the run through its ``only_*`` keys)."""
    if not plan.subset:
        return ""
    ran = "; ".join(f"{name}: {', '.join(experiment['agents'])} on {', '.join(experiment['envs'])}"
                    for name, experiment in plan.experiments.items())
    return (f"This run selected a subset ({plan.subset.replace('+', ', ')}); this report covers only {ran}. "
            "The other experiments, environments and agents below are in the configuration but were not run.")


def provenance(config: dict[str, Any], runs: pd.DataFrame, report: Path | None = None) -> dict[str, Any]:
    config_text = json.dumps(config, sort_keys=True)
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    finished = runs[runs["status"] == "finished"]
    hardware = sorted({f"{r.device}: {r.cpu_model}" + (f" + {r.gpu_model}" if r.gpu_model else "") for r in finished.itertuples()})
    return {
        "git_commit": git_commit(),
        "run_commits": sorted(set(finished["git_commit"].dropna())) if "git_commit" in finished else [],
        "config_hash": hashlib.sha256(config_text.encode()).hexdigest()[:16],
        "packages": packages,
        "python": platform.python_version(),
        **reproduce_command(config, report),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hardware": hardware,
        "platform": platform.platform(),
    }


def inline_figures(directory: Path) -> dict[str, str]:
    """figure name (file stem) -> data URI, so the report needs no other file."""
    figures = {}
    for path in sorted(directory.glob("*.svg")):
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        figures[path.stem] = f"data:image/svg+xml;base64,{encoded}"
    return figures


def render(context: dict[str, Any], templates: Path = TEMPLATES) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates), encoding="utf-8"), autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters["num"] = _number
    template = environment.get_template("paper.html.j2")
    return template.render(**context, style=(templates / "style.css").read_text(encoding="utf-8"))


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, (int, float)):
        return fmt(float(value), digits)
    return str(value)


def title(analysis: dict[str, Any]) -> str:
    """The report's title, naming only the experiments that ran."""
    titles = [experiment["title"] for experiment in analysis["experiments"].values()]
    return "Which policy-gradient design choices matter? Experiments" + (f": {', '.join(titles)}" if titles else "")


def build_context(config: dict[str, Any], analysis: dict[str, Any], runs: pd.DataFrame, figures: dict[str, str],
                  report: Path | None = None) -> dict[str, Any]:
    """Everything the template shows; ``report`` is where the HTML goes (for the resolved config's path)."""
    plan = load_plan(config, check_registries=False)
    return {
        "title": title(analysis),
        "plan": {"profile": plan.profile, "seeds": len(plan.seeds), "budget_scale": plan.budget_scale,
                 "replicates": plan.bootstrap_replicates, "bootstrap_seed": plan.bootstrap_seed,
                 "solve_fraction": plan.solve_fraction, "runs": len(plan.runs), "subset": plan.subset},
        "analysis": analysis,
        "environments": environment_table(plan, analysis.get("floors")),
        "agents": agent_table(plan, analysis.get("parameters")),
        "hyperparameters": hyperparameters(config),
        "environment_settings": environment_settings(config, plan),
        "provenance": {**provenance(config, runs, report), "subset_note": subset_note(plan)},
        "figures": figures,
    }


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (whatever the locale) to a temporary file beside ``path`` and rename it
    into place; on any failure the temporary file is removed and the error raised."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".report.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temp, 0o644)  # mkstemp creates 0600; a report is meant to be read
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def table_digest(path: Path) -> str:
    """The first 16 hex digits of the SHA-256 of a table file's bytes: which table a report was built from."""
    return file_sha256(path)[:16]


def incomplete_title(title: str, counts: dict[str, int]) -> str:
    """The title, saying so when not every planned run finished."""
    if counts["finished"] >= counts["planned"]:
        return title
    return f"{title} (incomplete: {counts['finished']} of {counts['planned']} runs finished)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paper.report", description=__doc__.splitlines()[0])
    parser.add_argument("--config-json", required=True)
    parser.add_argument("--analysis", required=True)
    parser.add_argument("--tables", required=True)
    parser.add_argument("--figures", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    config = json.loads(args.config_json)
    analysis = json.loads((Path(args.analysis) / "analysis.json").read_text(encoding="utf-8"))
    tables = Path(args.tables)
    runs = pd.read_parquet(tables / "runs.parquet").merge(pd.read_parquet(tables / "costs.parquet"),
                                                         on=["env", "agent", "variant", "seed"], how="left")
    out = Path(args.out)
    context = build_context(config, analysis, runs, inline_figures(Path(args.figures)), out)
    context["title"] = incomplete_title(context["title"], analysis["counts"])
    context["provenance"]["runs_table"] = table_digest(tables / "runs.parquet")
    if context["provenance"]["resolved"] is not None:
        write_atomic(Path(context["provenance"]["path"]), context["provenance"]["resolved"])
    write_atomic(out, render(context))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
