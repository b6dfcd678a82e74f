"""Nothing in the pipeline configuration is trusted blindly: numbers, names, cross-references and
the results folder are checked before any job, each failure one line naming the key and the value."""

from __future__ import annotations

import pytest
import yaml

from bench.learn.config import ConfigError
from bench.pipeline.plan import load_plan, plan_table
from bench.provenance import REPO_ROOT
from tests.conftest import ROOT


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def one_line_error(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        load_plan(config)
    text = str(error.value)
    assert "\n" not in text, text
    return text


NUMBERS = {
    "budget_scale inf (a YAML .inf)": (lambda c: c["profiles"]["full"].update(budget_scale=float("inf")),
                                       "profiles.full.budget_scale: inf is not a finite number"),
    "budget_scale nan (passes every bound)": (lambda c: c["profiles"]["full"].update(budget_scale=float("nan")),
                                              "profiles.full.budget_scale: nan is not a finite number"),
    "budget_scale -0.0": (lambda c: c["profiles"]["full"].update(budget_scale=-0.0),
                          "profiles.full.budget_scale: -0.0 is less than or equal to the minimum of 0"),
    "budget_scale above 100": (lambda c: c["profiles"]["quick"].update(budget_scale=250),
                               "profiles.quick.budget_scale: 250 is greater than the maximum of 100"),
    "solve_fraction nan": (lambda c: c.update(solve_fraction=float("nan")), "solve_fraction: nan is not a finite number"),
    "solve_fraction 1.5": (lambda c: c.update(solve_fraction=1.5), "solve_fraction: 1.5 is greater than the maximum of 1"),
    "a run option -inf": (lambda c: c.update(defaults={"max_grad_norm": float("-inf")}),
                          "defaults.max_grad_norm: -inf is not a finite number"),
    "an option value inf in a list": (lambda c: c["experiments"]["entropy"]["options"].update(entropy_coef=[0.0, float("inf")]),
                                      "experiments.entropy.options.entropy_coef.1: inf is not a finite number"),
    "seeds 2.0 is not an integer": (lambda c: c["profiles"]["full"].update(seeds=2.0),
                                    "profiles.full.seeds: 2.0 is not of type 'integer'"),
    "seeds 5000": (lambda c: c["profiles"]["full"].update(seeds=5000),
                   "profiles.full.seeds: 5000 is greater than the maximum of 1000"),
    "bootstrap_replicates 99": (lambda c: c.update(bootstrap_replicates=99),
                                "bootstrap_replicates: 99 is less than the minimum of 100"),
    "bootstrap_replicates 10**6": (lambda c: c.update(bootstrap_replicates=10**6),
                                   "bootstrap_replicates: 1000000 is greater than the maximum of 100000"),
    "bootstrap_replicates 500.0": (lambda c: c.update(bootstrap_replicates=500.0),
                                   "bootstrap_replicates: 500.0 is not of type 'integer'"),
    "bootstrap_seed -3": (lambda c: c.update(bootstrap_seed=-3), "bootstrap_seed: -3 is less than the minimum of 0"),
    "bootstrap_seed 7.0": (lambda c: c.update(bootstrap_seed=7.0), "bootstrap_seed: 7.0 is not of type 'integer'"),
    "bootstrap_seed true": (lambda c: c.update(bootstrap_seed=True), "bootstrap_seed: True is not of type 'integer'"),
    "seeds_per_job 0": (lambda c: c["profiles"]["batched"].update(seeds_per_job=0),
                        "profiles.batched.seeds_per_job: 0 is less than the minimum of 1"),
    "seeds_per_job 2048": (lambda c: c["profiles"]["batched"].update(seeds_per_job=2048),
                           "profiles.batched.seeds_per_job: 2048 is greater than the maximum of 1024"),
}


@pytest.mark.parametrize("case", list(NUMBERS))
def test_numbers_are_finite_true_integers_within_documented_ranges(config, case):
    mutate, message = NUMBERS[case]
    mutate(config)
    assert message in one_line_error(config)


NAMES = {
    "trailing newline in an experiment name": (
        lambda c: c["experiments"].update({"memory\n": c["experiments"].pop("memory")}),
        "experiment name 'memory\\n' must match"),
    "trailing newline in an agent name": (lambda c: c["experiments"]["bandits"]["agents"].append("mlp\n"),
                                          "agent name 'mlp\\n' in experiments.bandits must match"),
    "65 characters": (lambda c: c["experiments"]["bandits"]["envs"].append("E" * 65),
                      f"env name '{'E' * 65}' in experiments.bandits must match"),
    "leading dot": (lambda c: c["experiments"].update({".hidden": c["experiments"].pop("bandits")}),
                    "experiment name '.hidden' must match"),
    "names are checked in experiments the profile does not select": (
        lambda c: c["experiments"]["memory"]["agents"].append("x y"), "agent name 'x y' in experiments.memory must match"),
}


@pytest.mark.parametrize("case", list(NAMES))
def test_names_fully_match_the_safe_pattern(config, case):
    mutate, message = NAMES[case]
    config["profile"] = "smoke"  # selects bandits only
    mutate(config)
    if case == "leading dot":
        config["profiles"]["smoke"]["experiments"] = [".hidden"]
    assert message in one_line_error(config)


def test_a_64_character_name_is_accepted(config):
    config["experiments"]["bandits"]["agents"] = ["mlp"]
    config["experiments"]["b" * 64] = config["experiments"].pop("bandits")
    config["profiles"]["smoke"]["experiments"] = ["b" * 64]
    assert set(load_plan({**config, "profile": "smoke"}).experiments) == {"b" * 64}


REFERENCES = {
    "pair naming an agent the experiment lacks": (
        lambda c: c["experiments"]["memory"]["pairs"].append(["gru", "transformer"]),
        "pair ['gru', 'transformer'] in experiments.memory names 'transformer', not a variant of this experiment; "
        "valid choices: mlp, gru_cell, gru, window, gru_reset, lstm"),
    "pair naming a bare agent where the experiment varies options": (
        lambda c: c["experiments"]["baseline"].update(pairs=[["gru", "mlp"]]),
        "pair ['gru', 'mlp'] in experiments.baseline names 'gru', not a variant of this experiment; "
        "valid choices: mlp [baseline=none], gru [baseline=none]"),
    "reference value not in the option's list": (
        lambda c: c["experiments"]["entropy"].update(reference={"entropy_coef": 0.1}),
        "reference entropy_coef=0.1 in experiments.entropy is not one of its values; valid choices: 0.0, 0.01, 0.05"),
    "reference true where the list has 1": (
        lambda c: c["experiments"]["entropy"]["options"].update(entropy_coef=[0, 1]) or
        c["experiments"]["entropy"].update(reference={"entropy_coef": True}),
        "reference entropy_coef=true in experiments.entropy is not one of its values; valid choices: 0, 1"),
    "reference key the experiment does not vary": (
        lambda c: c["experiments"]["gaussian"].update(reference={"baseline": "none"}),
        "reference key 'baseline' in experiments.gaussian is not an option it varies; valid choices: std_mode"),
    "reference in an experiment without options": (
        lambda c: c["experiments"]["memory"].update(reference={"agent": "mlp"}),
        "reference key 'agent' in experiments.memory is not an option it varies; valid choices: (none"),
    "profile naming an unknown experiment": (
        lambda c: c["profiles"]["full"].update(experiments=["memory", "memroy"]),
        "profile 'full' names unknown experiment 'memroy'; valid choices: memory, baseline"),
}


@pytest.mark.parametrize("case", list(REFERENCES))
def test_cross_references_resolve_within_the_experiment(config, case):
    mutate, message = REFERENCES[case]
    mutate(config)
    assert message in one_line_error(config)


def test_pairs_name_the_same_labels_under_every_profile(config):
    """A profile's options (backend torch) are the same for every run, so they stay out of the labels."""
    for profile in ("full", "batched"):
        rows = plan_table(load_plan({**config, "profile": profile}))
        assert {row["label"] for row in rows if row["experiment"] == "memory"} == set(config["experiments"]["memory"]["agents"])


RESULTS = {
    "'..' back out of results/": ("results/../x", "profiles.full.results: 'results/../x' must be a folder inside results/"),
    "'..' even when it comes back in": ("results/quick/../quick", "'results/quick/../quick' must be a folder inside results/"),
    "a sibling of results/": ("results2/x", "profiles.full.results: 'results2/x' does not match"),
    "a trailing newline": ("results/quick\n", "profiles.full.results: 'results/quick\\n' contains a control character"),
}


@pytest.mark.parametrize("case", list(RESULTS))
def test_results_stays_inside_results(config, case):
    value, message = RESULTS[case]
    config["profiles"]["full"]["results"] = value
    assert message in one_line_error(config)


def test_results_through_a_link_out_of_results_is_refused(config, tmp_path):
    (REPO_ROOT / "results").mkdir(exist_ok=True)
    link = REPO_ROOT / "results" / f"test-link-{tmp_path.name}"
    link.symlink_to(tmp_path)
    try:
        config["profiles"]["full"]["results"] = f"results/{link.name}"
        assert f"'results/{link.name}' resolves to {tmp_path.resolve()}, outside results/" in one_line_error(config)
    finally:
        link.unlink()


def test_results_that_is_an_existing_file_is_refused(config, tmp_path):
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0\n")
    config["profiles"]["full"]["results"] = str(passwd)
    assert f"profiles.full.results: '{passwd}' must be a folder, but {passwd} is an existing file" in one_line_error(config)
    config["profiles"]["full"]["results"] = f"{passwd}/runs"
    assert f"'{passwd}/runs' must be a folder, but {passwd} is an existing file" in one_line_error(config)


def test_an_absolute_results_folder_is_the_users_choice(config, tmp_path):
    config["profiles"]["full"]["results"] = f"{tmp_path}/scratch/"
    assert load_plan(config).results == f"{tmp_path}/scratch"  # normalised: no '//' in run folders
