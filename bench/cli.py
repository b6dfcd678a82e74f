"""``python -m bench {run,list,check,perf}``.

Bad input (unknown environment, agent or option, out-of-range value, an output
folder that is a file, not writable, in use or already finished, a device that
is not there) prints one line naming the value and the valid choices and exits
with status 2, before anything is built or trained.

A run that diverges, or whose training raises (an agent's bug; not running out of
memory), prints ``error: run diverged: ...`` / ``error: run crashed: ...`` and exits
1; with ``--record-failure`` (the pipeline's) it is recorded instead: ``run.json``
with status ``failed`` and that one-line cause, and the command exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import traceback
from pathlib import Path
from collections.abc import Sequence
from typing import NoReturn

from bench.learn.config import ConfigError, RunConfig, field_help, resolve_steps, validate

USAGE_ERROR = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USAGE_ERROR)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``RunConfig`` field, typed and documented from the dataclass."""
    helps = field_help()
    defaults = RunConfig()
    for spec in dataclasses.fields(RunConfig):
        default = getattr(defaults, spec.name)
        flag = "--" + spec.name.replace("_", "-")
        kind = _parse_bool if isinstance(default, bool) else type(default)
        # Choices go into the help only: validate() names a bad one with the valid choices, in one line.
        choices = spec.metadata.get("choices")
        listed = f"choices: {', '.join(choices)}; " if choices else ""
        parser.add_argument(
            flag, dest=spec.name, type=kind, default=default, metavar=spec.name.upper(),
            help=f"{helps[spec.name]} ({listed}default: {default})",
        )


def _config_from(args: argparse.Namespace) -> RunConfig:
    values = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(RunConfig)}
    return RunConfig(**values)


class TrainingCrashed(Exception):
    """A run whose training raised something other than a divergence (an agent's bug, a bad tensor shape)."""

    def __init__(self, error: BaseException):
        text = " ".join(str(error).split())  # one line, whatever the exception said
        super().__init__(f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__)


def _is_resource_failure(error: BaseException) -> bool:
    """Out of memory (host or device) depends on the machine and its load, not on the run: not recorded, retried."""
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


def _crashed(error: Exception) -> TrainingCrashed:
    """The crash as an outcome; its traceback goes to stderr (the job's log) for whoever debugs it."""
    if _is_resource_failure(error):
        raise error
    traceback.print_exception(error, file=sys.stderr)
    return TrainingCrashed(error)


def _train_all(configs: list[RunConfig], progress: bool) -> list:
    """Outcomes (result, divergence or crash) in order: one seed batch on the torch backend, else one by one.

    A seed batch trains its seeds together, so a crash is every seed's outcome.
    """
    from bench.learn.train import TrainingDiverged, train

    if configs[0].backend == "torch":
        from bench.learn.seed_batch import train_seed_batch

        try:
            return train_seed_batch(configs)
        except Exception as error:
            return [_crashed(error)] * len(configs)
    outcomes = []
    for config in configs:
        try:
            outcomes.append(train(config, progress=progress))
        except TrainingDiverged as error:
            outcomes.append(error)
        except Exception as error:
            outcomes.append(_crashed(error))
    return outcomes


def _check_device(name: str) -> None:
    """``--device cuda`` without CUDA: one line now, not a traceback once training starts."""
    from bench.learn.common import select_device

    try:
        select_device(name)
    except RuntimeError as error:
        _fail(f"{error}; valid choices on this machine: auto, cpu")


def _out_folder(pattern: str, seed: int) -> Path:
    return Path(pattern.replace("{seed}", str(seed)))


def command_run(args: argparse.Namespace) -> int:
    from agents import AgentImportError
    from bench.pipeline.runio import OutFolderError, check_out_folder, lock_out_folders

    try:
        config = resolve_steps(validate(_config_from(args)))
    except (ConfigError, AgentImportError) as error:
        _fail(str(error))
    seeds = args.seeds if args.seeds is not None else [config.seed]
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        _fail(f"--seeds must be distinct non-negative integers, got {' '.join(map(str, seeds))}")
    if not args.out:
        _fail("--out '' is empty; give the folder for metrics.parquet and run.json")
    if args.seeds is not None and "{seed}" not in args.out:
        _fail(f"--out {args.out!r} must contain '{{seed}}' when --seeds is given (one folder per seed)")
    folders = [_out_folder(args.out, seed) for seed in seeds]
    try:
        for folder in folders:
            check_out_folder(folder, force=args.force)
    except OutFolderError as error:
        _fail(str(error))
    _check_device(config.device)
    configs = [dataclasses.replace(config, seed=seed) for seed in seeds]
    try:
        with lock_out_folders(folders, force=args.force):
            return _train_and_write(configs, args)
    except OutFolderError as error:
        _fail(str(error))


def _train_and_write(configs: list[RunConfig], args: argparse.Namespace) -> int:
    import pandas as pd

    from bench.pipeline.runio import write_run
    from bench.learn.train import TrainingDiverged, run_identity

    command = " ".join(["python -m bench", *sys.argv[1:]])
    status = 0
    for run, outcome in zip(configs, _train_all(configs, progress=sys.stderr.isatty() and not args.quiet)):
        out = _out_folder(args.out, run.seed)
        if isinstance(outcome, (TrainingDiverged, TrainingCrashed)):
            diverged = isinstance(outcome, TrainingDiverged)
            error = f"run diverged: {outcome}" if diverged else f"run crashed: {outcome}"
            print(f"error: {error}", file=sys.stderr)
            if not args.record_failure:
                status = 1
                continue
            # A divergence, or a crash of the training code, is a deterministic result of this
            # config and seed: record it (partial metrics, status "failed") so the report lists it
            # and it is not retried.
            metrics = getattr(outcome, "metrics", None) if diverged else None
            write_run(out, metrics if metrics is not None else pd.DataFrame(),
                      {**run_identity(run), "status": "failed", "failure": "diverged" if diverged else "crashed",
                       "error": error, "command": command})
            continue
        write_run(out, outcome.metrics, {**outcome.info, "command": command})
        if outcome.info["env_steps"] != run.steps:
            # Training runs whole updates of complete episodes, so it stops at or past the budget.
            print(f"{run.agent} on {run.env} seed {run.seed}: asked for {run.steps} steps, trained "
                  f"{outcome.info['env_steps']} (whole updates of complete episodes)")
        if not args.quiet:
            info = outcome.info
            print(
                f"{run.agent} on {run.env} seed {run.seed}: final score {info['final_score']:.2f} "
                f"after {info['env_steps']} steps, {info['steps_per_second']:.0f} steps/s -> {out}"
            )
    return status


def command_list(args: argparse.Namespace) -> int:
    import agents
    from bench import envs

    print("agents:")
    for name in agents.available():
        print(f"  {name:<16} {agents.describe(name)}")
    print("environments:")
    for name in envs.names():
        spec = envs.spec_for(name)
        observed = "partial" if spec.partially_observable else "full"
        print(f"  {name:<26} {spec.description} [{spec.family}, {observed} obs, random {spec.random_score:.1f}, target {spec.target_score:.1f}]")
    print("  (any other registered gymnasium id works too)")
    return 0


def command_check(args: argparse.Namespace) -> int:
    import agents
    from bench.learn.doctor import format_table, run_doctor

    names = args.agents or None
    if names:
        unknown = [name for name in names if name not in agents.available()]
        if unknown:
            _fail(f"unknown agent {unknown[0]!r}; valid choices: {', '.join(agents.available())}")
    results = run_doctor(names)
    print(format_table(results))
    failed = [r for r in results if r.status == "FAIL"]
    if args.out:
        from bench.learn.doctor import write_results

        write_results(Path(args.out), results)
    for result in failed:
        print(f"FAILED: agent {result.agent} ({result.head}, baseline {result.baseline}): {result.check}: {result.detail}",
              file=sys.stderr)
    return 1 if failed else 0


def command_perf(args: argparse.Namespace) -> int:
    from bench.perf import main as perf_main

    return perf_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bench", description="rpg-bench: policy-gradient benchmarks")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    run = commands.add_parser("run", help="train one (agent, environment, seed) run")
    _add_config_flags(run)
    run.add_argument("--out", required=True, help="directory for metrics.parquet and run.json "
                     "(with --seeds: a pattern containing {seed})")
    run.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                     help="train these seeds in one process instead of --seed: as one seed batch on the "
                          "torch backend (bench.learn.seed_batch), one after another on gym's")
    run.add_argument("--force", action="store_true",
                     help="replace a finished run already in --out (default: refuse, exit 2)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or summary line")
    run.add_argument("--record-failure", action="store_true",
                     help="on divergence or a crash of training (an exception; not out of memory), write "
                          "run.json with status 'failed' (and partial metrics) and exit 0; "
                          "the pipeline uses this so that the report lists the run")
    run.set_defaults(handler=command_run)

    listing = commands.add_parser("list", help="list agents and environments")
    listing.set_defaults(handler=command_list)

    check = commands.add_parser("check", help="gradient doctor: verify every agent's gradients")
    check.add_argument("agents", nargs="*", help="agents to check (default: all)")
    check.add_argument("--out", help="also write the table as CSV here")
    check.set_defaults(handler=command_check)

    perf = commands.add_parser("perf", help="print speed figures (steps/s, ratios)")
    perf.add_argument("--quick", action="store_true", help="smaller measurements (for CI)")
    perf.add_argument("--agents", nargs="*", default=None, help="variants to measure (default: all)")
    perf.add_argument("--seed-batches", type=int, nargs="*", default=None, metavar="S",
                      help="seed-batch sizes to measure (default: 1 16 64 on CPU, 1 16 256 1024 on CUDA)")
    perf.add_argument("--solve-seeds", type=int, default=3, help="seeds for the time-to-solve figure")
    perf.set_defaults(handler=command_perf)
    return parser


def _option_names(parser: argparse.ArgumentParser, command: str) -> list[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = subparsers.choices[command]
    return sorted(o for action in sub._actions for o in action.option_strings if o.startswith("--"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _fail(f"unknown option {unknown[0]!r} for '{args.command}'; valid options: "
              f"{', '.join(_option_names(parser, args.command))}")
    return args.handler(args)
