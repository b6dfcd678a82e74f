"""From the pipeline configuration to the list of runs to train.

The Snakefile calls ``load_plan(config)`` once; everything here is plain Python
and tested without Snakemake. A run is identified by its settings (environment,
agent, options that differ from the defaults, seed), and its directory is built
from them, so a run shared by two experiments is trained once, and growing the
configuration never renames a finished run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from bench.learn.config import ConfigError, RunConfig, validate
from bench.provenance import REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "config" / "schema.json"
#: RunConfig fields a config may not set per experiment (they are the grid's axes).
AXES = ("env", "agent", "seed", "steps")
#: Names that become path components. Used with ``fullmatch``: ``$`` would let a trailing newline through.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
#: The folder that relative ``results`` paths must stay inside.
RESULTS_ROOT = "results"
VARIANT_DEFAULT = "default"
# Joins a variant's options in its folder name and job wildcard. Not ",": Snakemake
# hands a job to a remote executor (SLURM) as `--target-jobs train:k=v,k=v`, split at
# commas, so a comma inside a wildcard value cuts it short there.
OPTION_SEPARATOR = "+"


@dataclass(frozen=True)
class RunSpec:
    """One training run of the plan."""

    env: str
    agent: str
    options: tuple[tuple[str, Any], ...]  # sorted (name, value), non-default only
    seed: int

    @property
    def variant(self) -> str:
        """Path-safe name of the options: ``default`` or ``baseline=none+entropy_coef=0.05``."""
        if not self.options:
            return VARIANT_DEFAULT
        return OPTION_SEPARATOR.join(f"{name}={format_value(value)}" for name, value in self.options)

    @property
    def label(self) -> str:
        """How the report names this variant: ``gru`` or ``gru [baseline=none, entropy_coef=0.05]``."""
        if not self.options:
            return self.agent
        return f"{self.agent} [{', '.join(f'{name}={format_value(value)}' for name, value in self.options)}]"

    def directory(self, results: str) -> str:
        return f"{results}/runs/{self.env}/{self.agent}/{self.variant}/seed{self.seed}"


@dataclass(frozen=True)
class JobSpec:
    """The runs one training job trains: one seed, or a block of seeds of one setting.

    Blocks are aligned (seeds ``[k*n, (k+1)*n)``), so adding seeds changes only
    the last block.
    """

    env: str
    agent: str
    variant: str
    seeds: tuple[int, ...]
    block: bool = False  # trained by rule train_seeds (even when the last block has one seed)

    @property
    def name(self) -> str:
        """``seed3`` for a single run, ``seeds0-7`` for a block."""
        return f"seeds{self.seeds[0]}-{self.seeds[-1]}" if self.block else f"seed{self.seeds[0]}"

    def directory(self, results: str) -> str:
        return f"{results}/runs/{self.env}/{self.agent}/{self.variant}/{self.name}"


@dataclass(frozen=True)
class Plan:
    """The resolved configuration: runs, the experiments they belong to, and settings."""

    profile: str
    results: str
    seeds: tuple[int, ...]
    budget_scale: float
    bootstrap_replicates: int
    bootstrap_seed: int
    solve_fraction: float
    experiments: dict[str, dict[str, Any]]
    membership: dict[str, tuple[RunSpec, ...]]
    seeds_per_job: int = 1
    #: environment -> its training budget at budget scale 1 (``env_settings.<env>.budget``)
    budgets: dict[str, int] = dataclasses.field(default_factory=dict)
    #: a path-safe name of the subset asked for with ``only_experiments/only_envs/only_agents``
    #: ("" for the whole profile); a subset's tables and report live in ``subsets/<subset>/``
    subset: str = ""

    @property
    def runs(self) -> list[RunSpec]:
        """Every distinct run, in a stable order."""
        unique: dict[RunSpec, None] = {}
        for runs in self.membership.values():
            unique.update(dict.fromkeys(runs))
        return list(unique)

    @property
    def agents(self) -> list[str]:
        return sorted({run.agent for run in self.runs})

    def steps_for(self, env: str) -> int:
        """Environment steps of one run on ``env``: its budget (``env_settings``, else the
        environment's default) times the profile's budget scale."""
        from bench import envs

        budget = self.budgets.get(env) or envs.spec_for(env).default_steps
        return max(1, int(round(budget * self.budget_scale)))

    def job_of(self, run: RunSpec) -> JobSpec:
        """The job that trains ``run``."""
        if self.seeds_per_job == 1:
            return JobSpec(run.env, run.agent, run.variant, (run.seed,))
        first = run.seed - run.seed % self.seeds_per_job
        block = tuple(seed for seed in self.seeds if first <= seed < first + self.seeds_per_job)
        return JobSpec(run.env, run.agent, run.variant, block, block=True)

    @property
    def jobs(self) -> list[JobSpec]:
        """Every training job, in a stable order."""
        return list(dict.fromkeys(self.job_of(run) for run in self.runs))

    def directory(self, run: RunSpec) -> str:
        """Where ``run``'s metrics.parquet and run.json live: ``.../seed3`` or ``.../seeds0-7/seed3``."""
        if self.seeds_per_job == 1:
            return run.directory(self.results)
        return f"{self.job_of(run).directory(self.results)}/seed{run.seed}"

    def find(self, env: str, agent: str, variant: str, seed: int) -> RunSpec:
        for run in self.runs:
            if (run.env, run.agent, run.variant, run.seed) == (env, agent, variant, int(seed)):
                return run
        raise KeyError(f"no run {env}/{agent}/{variant}/seed{seed} in profile {self.profile!r}")

    def arguments(self, run: RunSpec, seeds: tuple[int, ...] | None = None) -> str:
        """The ``python -m bench run`` options of a run, or of a block of its seeds (shell-quoted)."""
        seed_flags = ["--seed", str(run.seed)] if seeds is None else ["--seeds", *map(str, seeds)]
        parts = ["--env", run.env, "--agent", run.agent, *seed_flags, "--steps", str(self.steps_for(run.env))]
        for name, value in run.options:
            parts += ["--" + name.replace("_", "-"), format_value(value)]
        return shlex.join(parts)

    def job_arguments(self, env: str, agent: str, variant: str, first: int, last: int) -> str:
        """The options of the job training seeds ``first..last`` of a setting (shell-quoted)."""
        job = self.job_of(self.find(env, agent, variant, first))
        if (job.seeds[0], job.seeds[-1]) != (int(first), int(last)):
            raise KeyError(f"no job {job.env}/{agent}/{variant}/seeds{first}-{last}; this one is {job.name}")
        return self.arguments(self.find(env, agent, variant, first), job.seeds)


def format_value(value: Any) -> str:
    """A value as run folders and the command line write it: ``1e30``, not ``1e+30`` (``+`` joins options)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(value).replace("e+", "e")
    return str(value)


def _fail(message: str) -> None:
    raise ConfigError(f"config: {message}")


def _schema_message(error: jsonschema.ValidationError, schema: dict) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "top level"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        choices = ", ".join(allowed) if allowed else "(any name)"
        return f"unknown key {unexpected[0]!r} in {where}; valid keys: {choices}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def _is_true_integer(checker: Any, instance: Any) -> bool:
    # jsonschema counts 2.0 as an integer; a count or a seed written 2.0 is a typo, not a count.
    return isinstance(instance, int) and not isinstance(instance, bool)


StrictValidator = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", _is_true_integer),
)


def _check_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinities anywhere (PyYAML reads ``.nan``/``.inf`` as floats, and NaN passes
    every schema bound because each comparison with NaN is False)."""
    if isinstance(value, float) and not math.isfinite(value):
        _fail(f"{where or 'top level'}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _check_finite(item, f"{where}.{key}" if where else str(key))


def validate_schema(config: dict[str, Any]) -> None:
    _check_finite(config, "")
    schema = json.loads(SCHEMA_PATH.read_text())
    errors = sorted(StrictValidator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        _fail(_schema_message(errors[0], schema))


def _check_name(kind: str, name: Any, where: str = "") -> None:
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        _fail(f"{kind} name {name!r}{where} must match {SAFE_NAME.pattern} "
              "(letters, digits, _ . : -; at most 64 characters; no path separators)")


def _check_names(config: dict[str, Any]) -> None:
    """Every name that becomes a path component or a wildcard, in every experiment (selected or not)."""
    _check_name("profile", config["profile"])
    for name, experiment in config["experiments"].items():
        _check_name("experiment", name)
        for label in ("agents", "envs"):
            for item in experiment[label]:
                _check_name(label[:-1], item, f" in experiments.{name}")


def _check_results(profile: str, results: str) -> str:
    """The results folder, normalised: inside ``results/`` unless an absolute path was chosen on purpose."""
    where = f"profiles.{profile}.results"
    if any(char in results for char in "\n\r\0"):
        _fail(f"{where}: {results!r} contains a control character")
    path = PurePosixPath(results)
    if not path.is_absolute():
        if ".." in path.parts or path.parts[:1] != (RESULTS_ROOT,):
            _fail(f"{where}: {results!r} must be a folder inside {RESULTS_ROOT}/ without '..' "
                  "(or an absolute path, chosen on purpose)")
        root = (REPO_ROOT / RESULTS_ROOT).resolve()
        if not (REPO_ROOT / results).resolve().is_relative_to(root):
            _fail(f"{where}: {results!r} resolves to {(REPO_ROOT / results).resolve()}, outside {RESULTS_ROOT}/ "
                  "(a symbolic link?)")
    target = Path(results) if path.is_absolute() else REPO_ROOT / results
    existing = next(p for p in (target, *target.parents) if p.exists())
    if not existing.is_dir():
        _fail(f"{where}: {results!r} must be a folder, but {existing} is an existing file")
    return str(path)


def _same_value(a: Any, b: Any) -> bool:
    """Equal, without letting ``True`` stand for ``1`` (0 and 0.0 are the same number)."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _check_reference(name: str, experiment: dict[str, Any]) -> None:
    """``reference`` keys are options this experiment varies, and each value one of that option's values."""
    options = experiment.get("options", {})
    for key, value in experiment.get("reference", {}).items():
        if key not in options:
            _fail(f"reference key {key!r} in experiments.{name} is not an option it varies; "
                  f"valid choices: {', '.join(options) or '(none: the experiment has no options)'}")
        if not any(_same_value(value, choice) for choice in options[key]):
            _fail(f"reference {key}={format_value(value)} in experiments.{name} is not one of its values; "
                  f"valid choices: {', '.join(map(format_value, options[key]))}")


def _check_pairs(name: str, experiment: dict[str, Any], runs: tuple[RunSpec, ...]) -> None:
    """Every entry of ``pairs`` is a variant label of the experiment (what the analysis compares),
    and ``reference_agent`` one of its agents."""
    reference = experiment.get("reference_agent")
    if reference is not None and reference not in experiment["agents"]:
        _fail(f"reference_agent {reference!r} in experiments.{name} is not one of its agents; "
              f"valid choices: {', '.join(experiment['agents'])}")
    varied = list(experiment.get("options", {}))
    labels = list(dict.fromkeys(experiment_label(run, varied) for run in runs))
    for pair in experiment.get("pairs", []):
        for label in pair:
            if label not in labels:
                _fail(f"pair {pair} in experiments.{name} names {label!r}, not a variant of this experiment; "
                      f"valid choices: {', '.join(labels)}")


SUBSET_KEYS = ("only_experiments", "only_envs", "only_agents")


def _subset(config: dict[str, Any]) -> dict[str, list[str]]:
    """``only_experiments`` / ``only_envs`` / ``only_agents`` (comma-separated names) -> lists, keyed
    ``experiments`` / ``envs`` / ``agents``; absent or empty keys are left out."""
    subset = {}
    for key in SUBSET_KEYS:
        names = [name.strip() for name in str(config.get(key) or "").split(",") if name.strip()]
        for name in names:
            if not SAFE_NAME.fullmatch(name):
                _fail(f"{key}: {name!r} must match {SAFE_NAME.pattern}")
        if names:
            subset[key.removeprefix("only_")] = names
    return subset


def _restrict(experiments: dict[str, Any], selected: list[str], subset: dict[str, list[str]]
              ) -> tuple[dict[str, Any], list[str]]:
    """The profile's experiments cut to a subset; a name that selects nothing is an error (one line)."""
    if not subset:
        return experiments, selected
    for key, field in (("experiments", None), ("envs", "envs"), ("agents", "agents")):
        known = list(selected) if field is None else list(dict.fromkeys(
            item for name in selected for item in experiments[name][field]))
        for name in subset.get(key, []):
            if name not in known:
                _fail(f"only_{key}: {name!r} is not in profile's experiments; valid choices: {', '.join(known)}")
    restricted, kept = {}, []
    for name in selected:
        if "experiments" in subset and name not in subset["experiments"]:
            continue
        experiment = dict(experiments[name])
        for field in ("envs", "agents"):
            if field in subset:
                experiment[field] = [item for item in experiment[field] if item in subset[field]]
        if not experiment["envs"] or not experiment["agents"]:
            continue
        if experiment.get("reference_agent") not in (None, *experiment["agents"]):
            experiment.pop("reference_agent")
        experiment["pairs"] = [p for p in experiment.get("pairs", []) if all(
            label.split(" [")[0] in experiment["agents"] for label in p)]
        restricted[name], kept = experiment, kept + [name]
    if not kept:
        _fail(f"the subset {subset} selects no run of the profile")
    return {**experiments, **restricted}, kept


def _option_grid(options: dict[str, list[Any]]) -> list[dict[str, Any]]:
    grid: list[dict[str, Any]] = [{}]
    for name, values in options.items():
        grid = [{**point, name: value} for point in grid for value in values]
    return grid


def _check_settings(name: str, experiment: dict[str, Any], profile_options: dict[str, Any]) -> None:
    """An experiment's ``settings`` hold for every one of its runs (the report says so): a key that its
    own ``options`` vary, or that the profile's ``options`` set, would override them, and is refused."""
    for key in experiment.get("settings", {}):
        if key in experiment.get("options", {}):
            _fail(f"experiments.{name}: settings.{key} is also varied by its options; valid: one or the other")
        if key in profile_options:
            _fail(f"experiments.{name}: settings.{key} is also set by the profile's options; valid: one or the other")


def _check_run_values(experiment: str, agent: str, env: str, options: dict[str, Any],
                      check_registries: bool = True) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    valid_options = sorted(set(fields) - set(AXES))
    for name in options:
        if name not in valid_options:
            _fail(f"unknown option {name!r} in experiments.{experiment}; valid options: {', '.join(valid_options)}")
    typed = {name: _coerce(experiment, name, value) for name, value in options.items()}
    if not check_registries:
        return typed
    try:
        validate(RunConfig(env=env, agent=agent, **typed))
    except ConfigError as error:
        _fail(f"experiments.{experiment}: {error}")
    return typed


def _coerce(experiment: str, name: str, value: Any) -> Any:
    """The value as the RunConfig field's type; an int is a valid float, a bool is never a number."""
    default = getattr(RunConfig(), name)
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, type(default)) and not isinstance(value, bool)
    if not ok:
        _fail(f"option {name}={value!r} in experiments.{experiment} must be of type {type(default).__name__}")
    return type(default)(value)


def load_plan(config: dict[str, Any], check_registries: bool = True) -> Plan:
    """Validate the configuration and expand it into runs; ``ConfigError`` on the first problem.

    ``check_registries=False`` skips ``bench.learn.config.validate`` of each run (which
    imports the agent registry, hence torch): for readers of finished tables.
    """
    validate_schema(config)
    _check_names(config)
    profiles = config["profiles"]
    if config["profile"] not in profiles:
        _fail(f"unknown profile {config['profile']!r}; valid choices: {', '.join(profiles)}")
    profile = profiles[config["profile"]]
    results = _check_results(config["profile"], profile["results"])
    experiments = config["experiments"]
    selected = profile.get("experiments", list(experiments))
    for name in selected:
        if name not in experiments:
            _fail(f"profile {config['profile']!r} names unknown experiment {name!r}; valid choices: {', '.join(experiments)}")
    subset = _subset(config)
    experiments, selected = _restrict(experiments, selected, subset)
    defaults = config.get("defaults", {})
    profile_options = profile.get("options", {})
    for env in config.get("env_settings", {}):
        from bench import envs

        if not envs.is_known(env):
            _fail(f"env_settings names unknown environment {env!r}; valid choices: {', '.join(envs.names())} "
                  "or any registered gymnasium id")
    env_settings = {env: {k: v for k, v in settings.items() if k != "budget"}
                    for env, settings in config.get("env_settings", {}).items()}
    seeds = tuple(range(profile["seeds"]))
    membership: dict[str, tuple[RunSpec, ...]] = {}
    for name in selected:
        experiment = experiments[name]
        _check_settings(name, experiment, profile_options)
        runs = []
        for point in _option_grid(experiment.get("options", {})):
            for env in experiment["envs"]:
                for agent in experiment["agents"]:
                    # Every variant of an experiment on one environment gets that environment's settings,
                    # then the experiment's own fixed ones (e.g. its estimator), then what it varies.
                    settings = {**defaults, **env_settings.get(env, {}), **experiment.get("settings", {}),
                                **profile_options, **point}
                    options = _check_run_values(name, agent, env, settings, check_registries)
                    non_default = tuple(sorted((k, v) for k, v in options.items() if v != getattr(RunConfig(), k)))
                    runs.extend(RunSpec(env, agent, non_default, seed) for seed in seeds)
        membership[name] = tuple(runs)
        _check_reference(name, experiment)  # after the values, so a bad value is named as such
        _check_pairs(name, experiment, membership[name])
    return Plan(
        profile=config["profile"],
        results=results,
        seeds=seeds,
        budget_scale=float(profile["budget_scale"]),
        bootstrap_replicates=int(config["bootstrap_replicates"]),
        bootstrap_seed=int(config["bootstrap_seed"]),
        solve_fraction=float(config.get("solve_fraction", 0.9)),
        experiments={name: experiments[name] for name in selected},
        membership=membership,
        seeds_per_job=int(profile.get("seeds_per_job", 1)),
        budgets={env: int(s["budget"]) for env, s in config.get("env_settings", {}).items() if "budget" in s},
        subset="+".join(f"{key}={','.join(names)}" for key, names in subset.items()),
    )


def experiment_label(run: RunSpec, varied: list[str]) -> str:
    """How an experiment names a run: the agent, plus every option the experiment varies,
    defaults included (``mlp [baseline=critic]``), so no column of an ablation hides its value.

    Options the experiment does not vary (top-level ``defaults``, ``env_settings``, its ``settings``, a
    profile's ``options``) are the same for all its runs and stay out, so ``pairs`` name the same
    labels under every profile."""
    if not varied:
        return run.agent
    options = dict(run.options)
    values = [f"{name}={format_value(options.get(name, getattr(RunConfig(), name)))}" for name in sorted(varied)]
    return f"{run.agent} [{', '.join(values)}]"


def plan_table(plan: Plan) -> list[dict[str, Any]]:
    """One row per (experiment, run): what the analysis joins the run results to."""
    rows = []
    for experiment, runs in plan.membership.items():
        varied = list(plan.experiments[experiment].get("options", {}))
        for run in runs:
            rows.append({"experiment": experiment, "env": run.env, "agent": run.agent, "variant": run.variant,
                         "label": experiment_label(run, varied), "seed": run.seed,
                         "options": json.dumps(dict(run.options))})
    return rows
