"""The pipeline configuration: validation before any job, and how experiments expand into runs."""

from __future__ import annotations

import copy

import pytest
import yaml

from bench.learn.config import ConfigError
from bench.pipeline.plan import load_plan, plan_table
from tests.conftest import ROOT


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_profile_is_the_full_paper_with_at_least_ten_seeds(config):
    plan = load_plan(config)
    assert plan.profile == "full" and len(plan.seeds) >= 10 and plan.results == "results"
    assert set(plan.experiments) == {"memory", "baseline", "entropy", "gaussian", "bandits"}


def test_quick_profile_covers_every_experiment_of_the_paper_with_three_seeds(config):
    config["profile"] = "quick"
    plan = load_plan(config)
    assert len(plan.seeds) == 3 and set(plan.experiments) == {name for name, spec in config["experiments"].items() if not spec.get("sweep")}
    assert set(plan.experiments) == set(config["profiles"]["full"]["experiments"])
    assert plan.results == "results/quick"
    assert plan.steps_for("CartPole-v1") < 10_000


def test_a_run_shared_by_two_experiments_is_planned_once(config):
    plan = load_plan(config)
    # mlp on CartPole-v1 with the defaults (critic baseline, entropy 0.01) is in 'baseline' and in 'entropy'.
    shared = [r for r in plan.runs if r.env == "CartPole-v1" and r.agent == "mlp" and r.variant == "default"]
    assert len(shared) == len(plan.seeds)
    total_memberships = sum(len(runs) for runs in plan.membership.values())
    assert len(plan.runs) < total_memberships
    table = plan_table(plan)
    key = (shared[0].env, shared[0].agent, shared[0].variant, shared[0].seed)
    assert {row["experiment"] for row in table if (row["env"], row["agent"], row["variant"], row["seed"]) == key} >= {"baseline", "entropy"}


def test_variant_names_keep_only_non_default_options(config):
    plan = load_plan(config)
    variants = {r.variant for r in plan.membership["baseline"]}
    assert variants == {"baseline=none", "baseline=running_mean", "default"}
    run = next(r for r in plan.runs if r.variant == "baseline=none")
    assert "--baseline none" in plan.arguments(run) and f"--seed {run.seed}" in plan.arguments(run)


def test_growing_the_config_keeps_every_existing_run(config):
    before = {r.directory("results") for r in load_plan(config).runs}
    grown = copy.deepcopy(config)
    grown["experiments"]["memory"]["envs"].append("Acrobot-v1")
    grown["profiles"]["full"]["seeds"] += 2
    after = {r.directory("results") for r in load_plan(grown).runs}
    assert before < after


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(profil="full"), "unknown key 'profil' in top level; valid keys: bootstrap_replicates"),
    (lambda c: c["experiments"]["memory"].update(agnets=["mlp"]), "unknown key 'agnets' in experiments.memory; valid keys: agents, envs"),
    (lambda c: c.update(profile="huge"), "unknown profile 'huge'; valid choices: full, quick"),
    (lambda c: c["experiments"]["memory"]["agents"].append("transformer"), "unknown agent 'transformer'; valid choices: gru"),
    (lambda c: c["experiments"]["memory"]["envs"].append("Pong-v9"), "unknown environment 'Pong-v9'; valid choices: CartPole-v1"),
    (lambda c: c["experiments"]["entropy"]["options"].update(entropy_coef=[-0.1]), "entropy_coef must be >= 0, got -0.1"),
    (lambda c: c["experiments"]["entropy"]["options"].update(gamma=[1.5]), "gamma must be in [0, 1], got 1.5"),
    (lambda c: c["experiments"]["entropy"]["options"].update(lerning_rate=[0.1]), "unknown option 'lerning_rate' in experiments.entropy; valid options: backend, baseline"),
    (lambda c: c["experiments"]["entropy"]["options"].update(entropy_coef="0.1"), "experiments.entropy.options.entropy_coef: '0.1' is not of type 'array'"),
    (lambda c: c["experiments"]["memory"].update(agents=[]), "experiments.memory.agents: [] should be non-empty"),
    (lambda c: c["experiments"]["memory"].update(agents=["mlp", "mlp"]), "has non-unique elements"),
    (lambda c: c["profiles"]["full"].update(seeds=0), "profiles.full.seeds: 0 is less than the minimum of 1"),
    (lambda c: c["profiles"]["full"].update(seeds=2.5), "profiles.full.seeds: 2.5 is not of type 'integer'"),
    (lambda c: c["profiles"]["full"].update(budget_scale=0), "profiles.full.budget_scale: 0 is less than or equal to the minimum of 0"),
    (lambda c: c["profiles"]["full"].update(results="elsewhere"), "profiles.full.results: 'elsewhere' does not match"),
    (lambda c: c["experiments"].update({"../evil": {"agents": ["mlp"], "envs": ["CartPole-v1"]}}), "experiment name '../evil' must match"),
    (lambda c: c["experiments"]["memory"]["agents"].append("../mlp"), "agent name '../mlp' in experiments.memory must match"),
    (lambda c: c["experiments"]["baseline"]["options"].update(baseline=["none", 3]), "option baseline=3 in experiments.baseline must be of type str"),
    (lambda c: c["experiments"]["entropy"]["options"].update(normalize_returns=[1]), "must be of type bool"),
])
def test_bad_config_is_one_clear_line(config, mutate, message):
    mutate(config)
    with pytest.raises(ConfigError) as error:
        load_plan(config)
    text = str(error.value)
    assert message in text and "\n" not in text, text


def test_seed_blocks_are_aligned_and_cover_every_run_once():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["profiles"]["quick"].update(seeds=10, seeds_per_job=4)
    plan = load_plan({**config, "profile": "quick"})
    blocks = {job.seeds for job in plan.jobs}
    assert blocks == {(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)}
    assert sum(len(job.seeds) for job in plan.jobs) == len(plan.runs)
    run = next(r for r in plan.runs if r.seed == 9)
    assert plan.directory(run).endswith(f"/{run.variant}/seeds8-9/seed9")
    assert "--seeds 8 9" in plan.job_arguments(run.env, run.agent, run.variant, 8, 9)
    with pytest.raises(KeyError, match="seeds8-9"):
        plan.job_arguments(run.env, run.agent, run.variant, 8, 8)
    # A last block of one seed is still a block (its own folder), not a single run.
    config["profiles"]["quick"].update(seeds=9)
    single = load_plan({**config, "profile": "quick"})
    assert single.job_of(next(r for r in single.runs if r.seed == 8)).name == "seeds8-8"


def test_profile_options_apply_to_every_run_of_the_profile():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    plan = load_plan({**config, "profile": "batched"})
    assert all(dict(run.options)["backend"] == "torch" for run in plan.runs)
    assert plan.seeds_per_job == 10 and len(plan.jobs) * 10 == len(plan.runs)


def test_env_settings_reach_every_variant_on_that_environment_and_set_its_budget(config):
    config["env_settings"] = {"CartPole-v1": {"lr": 0.001, "budget": 90_000}}
    plan = load_plan(config)
    on_cartpole = [r for r in plan.runs if r.env == "CartPole-v1"]
    assert on_cartpole and all(dict(r.options)["lr"] == 0.001 for r in on_cartpole)
    assert all("lr" not in dict(r.options) for r in plan.runs if r.env != "CartPole-v1")
    assert plan.steps_for("CartPole-v1") == 90_000 and plan.steps_for("CartPole-P") == 300_000
    # An experiment's own options come last: the entropy experiment still varies entropy_coef.
    config["env_settings"] = {"DigitMatch-10": {"entropy_coef": 0.2}}
    values = {dict(r.options).get("entropy_coef", 0.01) for r in load_plan(config).membership["entropy"]
              if r.env == "DigitMatch-10"}
    assert values == {0.0, 0.01, 0.05}


def test_an_experiments_settings_reach_each_of_its_runs_and_stay_out_of_its_labels(config):
    config["experiments"]["memory"]["settings"] = {"estimator": "gae", "normalize_returns": True}
    plan = load_plan(config)
    assert all(dict(r.options)["estimator"] == "gae" and dict(r.options)["normalize_returns"] is True
               for r in plan.membership["memory"])
    assert all("estimator" not in dict(r.options) for r in plan.membership["baseline"])
    labels = {row["label"] for row in plan_table(plan) if row["experiment"] == "memory"}
    assert labels == set(config["experiments"]["memory"]["agents"])  # not varied: not in the labels
    # Not shared any more with the baseline experiment's critic arm: a different run, its own folder.
    memory = {r.directory("results") for r in plan.membership["memory"]}
    assert not memory & {r.directory("results") for r in plan.membership["baseline"]}
    assert "--estimator gae" in plan.arguments(plan.membership["memory"][0])


@pytest.mark.parametrize("settings, message", [
    ({"estimator": "ppo"}, "experiments.memory: unknown estimator 'ppo'; valid choices: reinforce, gae"),
    ({"gae_lambda": 2.0}, r"experiments.memory: gae_lambda must be in \[0, 1\], got 2.0"),
    ({"no_such_option": 1}, "unknown option 'no_such_option' in experiments.memory; valid options: "),
])
def test_bad_experiment_settings_are_refused_in_one_line(config, settings, message):
    config["experiments"]["memory"]["settings"] = settings
    with pytest.raises(ConfigError, match=message):
        load_plan(config)


def test_the_shipped_config_trains_cartpole_p_actor_critic_except_in_the_baseline_ablation(config):
    plan = load_plan(config)

    def estimators(experiment, env):
        return {(dict(r.options).get("estimator", "reinforce"), dict(r.options).get("normalize_returns", False))
                for r in plan.membership[experiment] if r.env == env}

    assert estimators("memory", "CartPole-P") == {("gae", True)}  # env_settings
    assert estimators("baseline", "CartPole-P") == {("reinforce", False)}  # the experiment's settings win
    assert estimators("memory", "ContinuousCartPole-P") == {("reinforce", False)}
    # The baseline experiment's CartPole-P runs keep their folders: its settings equal the defaults.
    assert {r.variant for r in plan.membership["baseline"] if r.env == "CartPole-P"} == {
        "baseline=none", "baseline=running_mean", "default"}
    assert len(plan.runs) == 58 * len(plan.seeds)


def test_settings_that_options_would_override_are_refused(config):
    # The report says every run of the experiment trains with its settings: nothing may override them.
    config["experiments"]["entropy"]["settings"] = {"entropy_coef": 0.5}
    with pytest.raises(ConfigError, match="experiments.entropy: settings.entropy_coef is also varied by its options"):
        load_plan(config)
    del config["experiments"]["entropy"]["settings"]
    config["profile"] = "batched"
    config["experiments"]["memory"]["settings"] = {"backend": "gym"}
    with pytest.raises(ConfigError, match="experiments.memory: settings.backend is also set by the profile's options"):
        load_plan(config)


def test_settings_that_contradict_what_an_experiment_varies_are_refused(config):
    # GAE needs a critic; the baseline experiment varies the baseline (none, running mean, critic).
    config["experiments"]["baseline"]["settings"] = {"estimator": "gae"}
    with pytest.raises(ConfigError, match="experiments.baseline: estimator 'gae' needs baseline 'critic', got baseline 'none'"):
        load_plan(config)


@pytest.mark.parametrize("settings, message", [
    ({"NoSuchEnv-v9": {"lr": 0.001}}, "env_settings names unknown environment 'NoSuchEnv-v9'"),
    ({"CartPole-v1": {"budget": 0}}, "budget"),
])
def test_bad_env_settings_are_refused_in_one_line(config, settings, message):
    config["env_settings"] = settings
    with pytest.raises(ConfigError, match=message):
        load_plan(config)


def test_a_reference_agent_must_be_one_of_the_experiments_agents(config):
    config["experiments"]["memory"]["reference_agent"] = "gru3"
    with pytest.raises(ConfigError, match="reference_agent 'gru3' in experiments.memory is not one of its agents"):
        load_plan(config)


def test_a_subset_keeps_only_the_runs_asked_for_and_names_itself(config):
    config.update(only_envs="CartPole-P", only_agents="gru,mlp")
    plan = load_plan(config)
    assert {r.env for r in plan.runs} == {"CartPole-P"} and {r.agent for r in plan.runs} == {"gru", "mlp"}
    assert set(plan.experiments) == {"memory", "baseline"}  # the others have no CartPole-P
    assert plan.subset == "envs=CartPole-P+agents=gru,mlp"
    # The runs are the whole profile's runs (same folders): a subset retrains nothing.
    whole = load_plan({k: v for k, v in config.items() if not k.startswith("only_")})
    assert set(plan.runs) <= set(whole.runs) and whole.subset == ""


@pytest.mark.parametrize("key, value", [("only_envs", "Pendulum-v1"), ("only_experiments", "memry")])
def test_a_subset_that_names_nothing_of_the_profile_is_refused(config, key, value):
    config[key] = value
    with pytest.raises(ConfigError, match=f"only_{key.removeprefix('only_')}: {value!r} is not in"):
        load_plan(config)


def test_large_values_make_path_safe_variant_names(config):
    config["experiments"]["bandits"]["options"] = {"value_lr": [0.01, 1.0e30]}
    variants = {r.variant for r in load_plan(config).membership["bandits"]}
    assert any("value_lr=1e30" in v for v in variants) and not any("e+" in v for v in variants)


@pytest.mark.parametrize("profile", ["full", "quick", "smoke", "tune", "batched"])
def test_every_job_survives_how_snakemake_hands_it_to_a_remote_executor(config, profile):
    """SLURM jobs get their wildcards back from `--target-jobs rule:k=v,k=v`, split at commas."""
    from snakemake.target_jobs import parse_target_jobs_cli_args

    plan = load_plan({**config, "profile": profile})
    for run in plan.runs:
        spec = f"train:env={run.env},agent={run.agent},variant={run.variant},seed={run.seed}"
        (target,) = parse_target_jobs_cli_args([spec])
        assert target.wildcards_dict == {"env": run.env, "agent": run.agent, "variant": run.variant,
                                         "seed": str(run.seed)}
        assert plan.find(**target.wildcards_dict) == run
