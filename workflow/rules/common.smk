# Helpers for the rules: the run plan (validated config) and input/param functions.
# All logic lives in bench/pipeline/plan.py, which is tested without Snakemake.
import inspect
import json
import os
import sys

sys.path.insert(0, workflow.basedir)

import agents
from bench.learn.config import ConfigError
from bench.pipeline.plan import load_plan

try:
    PLAN = load_plan(config)
except (ConfigError, agents.AgentImportError) as error:
    sys.exit(f"error: {error}")


# Jobs call `python`: the interpreter running Snakemake (a virtualenv's, or the
# conda environment's with --use-conda) comes first on the PATH, which is passed
# on to cluster jobs.
envvars:
    "PATH",


os.environ["PATH"] = (
    os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
)
CONDA_ENV = "../../environment.yml"


def results(path):
    """A path under this profile's results folder."""
    return os.path.join(PLAN.results, path)


def paper(path):
    """A path of the tables, analysis, figures and report: the profile's, or a subset's own
    folder (`--config only_envs=...`: the runs are the profile's, the paper is partial).
    """
    if PLAN.subset:
        return os.path.join(PLAN.results, "subsets", PLAN.subset, path)
    return results(path)


REPORT_FILE = paper("report/index.html")


wildcard_constraints:
    env=r"[A-Za-z0-9][A-Za-z0-9_.:-]*",
    agent=r"[A-Za-z0-9][A-Za-z0-9_.:-]*",
    variant=r"[A-Za-z0-9][A-Za-z0-9_.=+:-]*",
    seed=r"\d+",
    first=r"\d+",
    last=r"\d+",


def run_infos(wildcards):
    """What the training jobs produce: every run.json, or every seed-block folder."""
    if PLAN.seeds_per_job == 1:
        return [os.path.join(PLAN.directory(run), "run.json") for run in PLAN.runs]
    return [job.directory(PLAN.results) for job in PLAN.jobs]


#: The inputs of the target `all` (the report and every run's files). Snakemake does not rerun a
#: job for a missing intermediate file when everything after it is up to date, so without
#: the runs here a run folder deleted after the report was written would not be retrained
#: (README: "delete its folder ... to retry it"). With them, the next invocation retrains
#: it, then aggregates, analyses and reports again.
REPORT = [REPORT_FILE, *run_infos(None)]


def doctor_tables(wildcards):
    return [results(f"doctor/{agent}.csv") for agent in PLAN.agents]


def agent_source(wildcards):
    """The file that defines the agent: its doctor check reruns when it changes."""
    return os.path.relpath(
        inspect.getsourcefile(agents.agent_class(wildcards.agent)), workflow.basedir
    )


def train_arguments(wildcards):
    """The `python -m bench run` options of the run these wildcards name (shell-quoted)."""
    run = PLAN.find(wildcards.env, wildcards.agent, wildcards.variant, wildcards.seed)
    return PLAN.arguments(run)


def seed_block_arguments(wildcards):
    """The `python -m bench run --seeds ...` options of a block of seeds (shell-quoted)."""
    return PLAN.job_arguments(
        wildcards.env,
        wildcards.agent,
        wildcards.variant,
        wildcards.first,
        wildcards.last,
    )


def seed_folder_pattern(wildcards, output):
    """`--out` of a seed block: one folder per seed inside the block's folder."""
    return os.path.join(output[0], "seed{seed}")


def seed_block_mem_mb(wildcards):
    """Memory of a seed-block job: one run's, plus a little per extra seed."""
    return 1000 + 100 * (PLAN.seeds_per_job - 1)


def train_gpus(wildcards):
    """A GPU for jobs whose runs ask for device cuda (the SLURM executor turns this into --gpus)."""
    run = PLAN.find(
        wildcards.env,
        wildcards.agent,
        wildcards.variant,
        getattr(wildcards, "seed", None) or wildcards.first,
    )
    return 1 if dict(run.options).get("device") == "cuda" else 0


def report_templates(wildcards):
    """Every file of the report's templates: editing a section or a macro rebuilds the report."""
    root = os.path.join(workflow.basedir, "report", "templates")
    return sorted(
        os.path.relpath(os.path.join(folder, name), workflow.basedir)
        for folder, _, names in os.walk(root)
        for name in names
    )


def config_json(wildcards):
    return json.dumps(config, sort_keys=True)


def output_folder(wildcards, output):
    """The folder of the rule's first output."""
    return os.path.dirname(output[0])


def input_folder(wildcards, input):
    """The folder of the rule's first input."""
    return os.path.dirname(input[0])


def report_tables_folder(wildcards, input):
    """The folder of the aggregated tables the report reads."""
    return os.path.dirname(input.runs)
