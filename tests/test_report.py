"""The report template only presents: every string is escaped, nothing is computed in it;
the reproducibility command reproduces the run as it was run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.paper import report
from bench.paper.report import render
from tests.conftest import ROOT

EVIL = "<script>alert(1)</script>"


def minimal_context(label: str) -> dict:
    cell = {"label": label, "text": "1.0 [0.5, 1.5]", "n": 3, "n_text": "", "best": True, "tied": False,
            "no_learning": False, "flag": "", "estimate": 1.0, "low": 0.5, "high": 1.5}
    floor_cell = {**cell, "label": "mlp", "best": False, "no_learning": True, "flag": "no learning", "text": "0.1 [0.0, 0.2]"}
    interval = {"estimate": 1.0, "low": 0.5, "high": 1.5, "text": "1.0 [0.5, 1.5]"}
    experiment = {
        "name": "memory", "title": "Memory", "question": "Q?", "envs": ["CartPole-v1"], "labels": [label],
        "settings_text": "", "improvements_note": "",
        "table": {"labels": [label, "mlp"], "comparisons": 1, "testable": True, "resolution_note": "", "n_layout": "column", "column_n_text": ["n = 3", "n = 3"],
                  "rows": [{"env": "CartPole-v1", "floor_text": "9.5", "cells": [cell, floor_cell], "uninformative": False,
                            "n_text": "", "ceiling": False, "ceiling_note": "",
                            "verdict": f"best: {label} (IQM difference to the runner-up mlp = 0.9 [0.5, 1.3], Holm-adjusted p = 0.01)"}]},
        "uninformative": ["CueRecall"], "uninformative_note": "Left out: CueRecall.",
        "ceiling": [], "ceiling_note": "",
        "aggregate": [{"label": label, "seeds": 3, "iqm": interval, "median": interval, "mean": interval}],
        "improvements": [{"x": label, "y": "mlp", "text": "0.6 [0.4, 0.8]", "verdict": "no clear difference",
                          "sentence": "no clear difference, P(X > Y) = 0.6 [0.4, 0.8], Holm-adjusted p = 0.4",
                          "n_x": 3, "n_y": 3, "n_text": "3, 3", **interval,
                          "per_task": "per task: CartPole-v1 0.60", "disagreement": "",
                          "learning_area": {"verdict": "better", "per_task": "per task: CartPole-v1 0.90 (final scores at the ceiling)",
                                            "sentence": "better, P(X > Y) = 0.9 [0.8, 1.0], Holm-adjusted p = 0.01",
                                            "disagreement": "the tasks point opposite ways, and the aggregate averages "
                                                            "them: gru ahead on CartPole-P (P(gru > mlp) 1.00), mlp ahead on "
                                                            "CartPole-v1 (P(mlp > gru) 0.96) (per-task point estimates, not tested)"},
                          "learning_area_note": ""}],
        "learning_area_compared": 1, "seed_drops": [], "leader": {"top": label, "runner_up": "mlp", "tested": True, "significant": True, "estimate": 0.9,
                                     "text": "IQM difference 0.9 [0.5, 1.3], p = 0.01"},
    }
    analysis = {
        "caveat": "This is a smoke/quick run (profile quick: 3 seeds per cell).", "alpha": 0.05, "min_test_seeds": 5,
        "introduction": "We report 1 experiment (memory).", "not_run": ["Baseline"],
        "experiments": {"memory": experiment}, "abstract": [f"{label} is best."],
        "questions": [{"name": "hidden_state", "question": "q", "answer": f"{label} wins"}], "bandits": [],
        "time_to_threshold": [], "compute": [], "gru_vs_gru_cell": None,
        "doctor": {"checks": 2, "checks_text": "2 applicable checks", "agents": [{"agent": label, "checks": 2, "failed": 1, "text": "1 of 2 checks failed"}],
                   "failures": [{"agent": label, "head": "-", "baseline": "-", "check": "no_leak", "status": "FAIL",
                                 "detail": "leak"}]},
        "missing": [{"run": f"CartPole-v1/{label}/seed0", "status": "failed", "reason": "error: x"}],
        "counts": {"planned": 1, "finished": 0}, "critic_fit": {},
    }
    return {
        "title": "t", "analysis": analysis, "figures": {},
        "plan": {"profile": "quick", "seeds": 3, "budget_scale": 0.1, "replicates": 100, "bootstrap_seed": 0, "solve_fraction": 0.9, "runs": 1, "subset": ""},
        "environments": [], "agents": [{"agent": label, "description": label, "memory": "no", "actor_parameters": 1, "with_critic": 2}],
        "hyperparameters": [], "environment_settings": [{"env": label, "steps": 1, "settings": "defaults"}], "provenance": {"git_commit": "abc", "run_commits": [], "config_hash": "h", "packages": {},
                                              "python": "3", "command": "c", "date": "d", "hardware": [], "platform": "p",
                                              "resolved": None, "path": None, "subset_note": ""},
    }


def test_names_from_the_config_are_escaped():
    html = render(minimal_context(EVIL))
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script") == 0


def test_missing_runs_are_listed():
    html = render(minimal_context("mlp"))
    assert "CartPole-v1/mlp/seed0" in html and "failed" in html


def test_template_refuses_undefined_values():
    context = minimal_context("mlp")
    del context["analysis"]["abstract"]
    with pytest.raises(Exception, match="abstract"):
        render(context)


def test_a_small_run_is_flagged_at_the_top_and_only_ran_experiments_are_listed():
    html = render(minimal_context("mlp"))
    caveat = html.index("smoke/quick run")
    assert caveat < html.index('id="abstract"')
    contents = html[html.index('id="contents"'):html.index("</nav>")]
    assert "Memory" in contents and "Baseline" not in contents
    assert "Not run in this profile: Baseline." in html
    context = minimal_context("mlp")
    context["analysis"]["caveat"] = ""
    assert 'class="caveat"' not in render(context)


def test_result_flags_and_verdicts_are_shown_as_words_with_numbers():
    html = render(minimal_context("gru"))
    assert '0.1 [0.0, 0.2] <span class="flag">no learning</span>' in html and "Left out: CueRecall." in html
    context = minimal_context("gru")
    for row in context["analysis"]["experiments"]["memory"]["table"]["rows"]:
        for cell in row["cells"]:
            if cell["no_learning"]:
                cell["flag"] = "below the untrained policy"
    assert '0.1 [0.0, 0.2] <span class="flag">below the untrained policy</span>' in render(context)
    assert "best: gru (IQM difference to the runner-up mlp = 0.9 [0.5, 1.3], Holm-adjusted p = 0.01)" in html
    assert "no clear difference, P(X &gt; Y) = 0.6 [0.4, 0.8], Holm-adjusted p = 0.4" in html
    assert "Holm-Bonferroni" in html


def _results(html: str) -> str:
    return html[html.index('id="results"'):html.index('id="ablations"')]


def test_n_is_shown_where_the_analysis_puts_it():
    context = minimal_context("gru")
    html = render(context)
    header = _results(html)[:_results(html).index("</thead>")]
    assert header.count('<span class="n">n = 3</span>') == 2  # once per column, not in the cells
    assert "n (X, Y; seeds per task)" in html and "<td>3, 3</td>" in html
    table = context["analysis"]["experiments"]["memory"]["table"]
    table["column_n_text"] = ["", ""]
    table["rows"][0]["cells"][1]["n_text"] = "n = 2"
    results = _results(render(context))
    assert results.count('<span class="n">') == 1 and '0.1 [0.0, 0.2] <span class="n">n = 2</span>' in results
    table["rows"][0]["cells"][1]["n_text"] = ""
    table["rows"][0]["n_text"] = "n = 5"
    assert '<td>CartPole-v1 <span class="n">n = 5</span></td>' in _results(render(context))


def test_failed_seeds_are_shown_in_the_solve_counts():
    context = minimal_context("gru")
    context["analysis"]["bandits"] = [{"env": "DigitMatch-10", "seeds": 3, "samples": 50048, "accuracy_text": "0.9 [0.8, 1.0]",
                                       "samples_to_90_text": "100", "reached_90_text": "3/4 (1 failed, counted unsolved)"}]
    context["analysis"]["time_to_threshold"] = [{"env": "CartPole-v1", "label": "gru", "threshold": 261.15,
                                                 "solved_text": "2/4 (2 failed, counted unsolved)",
                                                 "median_steps_text": "n/a", "median_seconds_text": "n/a"}]
    questions = render(context)
    questions = questions[questions.index('id="questions"'):questions.index('id="compute"')]
    assert "<td>3/4 (1 failed, counted unsolved)</td>" in questions and "<td>2/4 (2 failed, counted unsolved)</td>" in questions
    assert "<td>DigitMatch-10</td><td>3</td><td>50,048</td>" in questions  # a count, with its thousands separated


def test_a_row_at_the_ceiling_is_said_in_the_results_table():
    context = minimal_context("gru")
    assert "at the ceiling" not in _results(render(context))
    row = context["analysis"]["experiments"]["memory"]["table"]["rows"][0]
    row.update(ceiling=True, verdict="cannot be separated: gru, mlp (IQM difference = 0 [0, 0])",
               ceiling_note="every variant at the ceiling (normalised ≥ 0.95): a difference here is under 5% of the "
                            "distance from random to target, not counted as a finding")
    context["analysis"]["experiments"]["memory"]["ceiling_note"] = "Every variant at the ceiling: CartPole-v1."
    results = _results(render(context))
    assert ("<td>cannot be separated: gru, mlp (IQM difference = 0 [0, 0]); every variant at the ceiling "
            "(normalised ≥ 0.95): a difference here is under 5% of the distance from random to target, not counted "
            "as a finding</td>") in results
    assert '<tr class="ceiling">' in results
    assert '<p class="note warning ceiling">Every variant at the ceiling: CartPole-v1.</p>' in results


def test_solve_times_say_they_are_read_from_the_training_return():
    context = minimal_context("gru")
    context["analysis"]["bandits"] = [{"env": "DigitMatch-10", "seeds": 3, "samples": 100, "accuracy_text": "0.9 [0.8, 1.0]",
                                       "samples_to_90_text": "100", "reached_90_text": "3/3"}]
    html = render(context)
    questions = " ".join(html[html.index('id="questions"'):html.index('id="compute"')].split())
    assert ("Unlike the results tables, which score the final deterministic evaluation (the mode of the action "
            "distribution), these times are read from the training return: the episodes played while learning, "
            "actions sampled from the stochastic policy.") in questions
    assert ("The exact accuracy comes from the final deterministic evaluation, as in the results tables; the samples "
            "to 90 % are counted on the training accuracy") in questions


def test_the_critics_fit_is_shown_under_an_experiment_with_critic_runs():
    context = minimal_context("gru")
    assert "critic-fit" not in render(context)
    context["analysis"]["critic_fit"] = {"memory": {"labels": ["gru", "mlp"], "rows": [
        {"env": "CartPole-v1", "cells": [{"label": "gru", "n": 3, "finished": 3, "median": 0.5, "low": 0.2, "high": 0.9,
                                          "text": "0.50 (0.20 to 0.90), n = 3"},
                                         {"label": "mlp", "n": 0, "finished": 3, "text": "not recorded"}], "note": ""},
        {"env": "GaussianTarget", "cells": [{"label": "gru", "n": 3, "finished": 3, "text": "-0.10 (-0.20 to 0.00), n = 3"},
                                            {"label": "mlp", "n": 3, "finished": 3, "text": "-0.10 (-0.20 to 0.00), n = 3"}],
         "note": "one-step task: near or below 0 is expected"}]}}
    results = _results(render(context))
    assert '<table class="critic-fit">' in results
    assert "<tr><td>CartPole-v1</td><td>0.50 (0.20 to 0.90), n = 3</td><td>not recorded</td></tr>\n        <tr><td>GaussianTarget" in results
    assert '<tr><td></td><td colspan="2" class="note">one-step task: near or below 0 is expected</td></tr>' in results
    caption = " ".join(results[results.index('<p class="note critic-fit">'):].split())
    assert "pooled over the last quarter of its updates" in caption
    assert "bootstrapped with the critic's value of the final observation at a time-limit truncation" in caption
    assert "before the critic is fitted to it, on data it has not yet seen" in caption
    assert "1 means the critic predicts its targets exactly, 0 no better than their mean" in caption
    assert "no interval, no test" in caption and '"not recorded"' in caption
    # Inside the experiment's own article, before its figures.
    assert results.index('id="experiment-memory"') < results.index('<table class="critic-fit">')


def test_dropped_seeds_are_said_under_the_experiment():
    context = minimal_context("gru")
    assert "seed-drop" not in render(context)
    drop = {"used_for": "the aggregate", "envs": ["CartPole-v1"], "dropped": 1, "variants": [],
            "text": "Seeds dropped from the aggregate: 1 finished seed left out."}
    context["analysis"]["experiments"]["memory"]["seed_drops"] = [drop]
    results = _results(render(context))
    assert '<p class="note warning seed-drop">Seeds dropped from the aggregate: 1 finished seed left out.</p>' in results


def test_doctor_shows_failures_and_one_line_per_agent():
    html = render(minimal_context("gru"))
    doctor = html[html.index('id="doctor"'):html.index('id="reproducibility"')]
    assert "1 of 2 checks failed" in doctor and "leak" in doctor and "PASS" not in doctor


def _base_config() -> dict:
    return json.loads(json.dumps(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())))


def test_command_is_the_profile_when_the_config_is_the_repositorys():
    config = {**_base_config(), "profile": "quick"}
    command = report.reproduce_command(config, ROOT / "results" / "quick" / "report" / "index.html")
    assert command == {"command": "snakemake --cores N --config profile=quick", "resolved": None, "path": None}


def test_a_changed_config_is_written_out_and_passed_with_configfile(tmp_path):
    config = {**_base_config(), "profile": "quick", "bootstrap_replicates": 50}
    command = report.reproduce_command(config, tmp_path / "report" / "index.html")
    path = tmp_path / "report" / "config.resolved.yaml"
    assert command["command"] == f"snakemake --cores N --configfile {path}"
    assert command["path"] == str(path)
    # The YAML shown and written is the effective config: reading it back gives it exactly.
    assert yaml.safe_load(command["resolved"]) == config
    inside = report.reproduce_command(config, ROOT / "results" / "x" / "report" / "index.html")
    assert inside["command"] == "snakemake --cores N --configfile results/x/report/config.resolved.yaml"


def test_the_aggregates_lead_is_shown_with_its_test():
    html = _results(render(minimal_context("gru")))
    assert "The top two by IQM, gru and mlp, tested" in html and "IQM difference 0.9 [0.5, 1.3], p = 0.01." in html
    context = minimal_context("gru")
    context["analysis"]["experiments"]["memory"]["leader"].update(tested=False, text="not tested with 3 seeds")
    assert "The top two by IQM, gru and mlp: not tested with 3 seeds." in _results(render(context))
    context["analysis"]["experiments"]["memory"]["leader"] = None
    assert "The top two by IQM" not in render(context)


def test_an_experiments_settings_and_untestable_families_are_said_under_it():
    context = minimal_context("gru")
    assert "Every run of this experiment" not in render(context) and "cannot find any difference" not in render(context)
    experiment = context["analysis"]["experiments"]["memory"]
    experiment["settings_text"] = "Every run of this experiment trains with estimator=gae."
    experiment["table"]["resolution_note"] = "Table: these tests cannot find any difference."
    experiment["improvements_note"] = "Pairs: these tests cannot find any difference."
    html = render(context)
    results, ablations = html[html.index('id="results"'):html.index('id="ablations"')], html[html.index('id="ablations"'):]
    assert "Every run of this experiment trains with estimator=gae." in results
    assert "Table: these tests cannot find any difference." in results
    assert "cannot be separated from the top (1 comparisons" in results and "Nothing is shaded" not in results
    experiment["table"]["testable"] = False  # the legend must not explain a shading the table does not use
    results = render(context)
    assert "Nothing is shaded: none of the 1 comparisons can reject at these seeds." in results
    assert "cannot be separated from the top" not in results[results.index('id="experiment-memory"'):]
    assert "Pairs: these tests cannot find any difference." in ablations


def test_the_doctor_states_its_applicable_checks():
    context = minimal_context("gru")
    context["analysis"]["doctor"]["checks_text"] = "326 applicable checks (10 not applicable)"
    assert "on a synthetic batch: 326 applicable checks (10 not applicable).</p>" in render(context)


def test_a_subset_run_says_which_part_of_its_resolved_config_ran():
    config = {**_base_config(), "only_experiments": "memory", "only_envs": "CartPole-P"}
    note = report.subset_note(report.load_plan(config, check_registries=False))
    assert note.startswith("This run selected a subset (experiments=memory, envs=CartPole-P); ")
    assert "this report covers only memory: mlp, gru_cell, gru, window, gru_reset, lstm on CartPole-P." in note
    assert "baseline" not in note and "CueRecall" not in note
    assert report.subset_note(report.load_plan(_base_config(), check_registries=False)) == ""


def test_the_title_names_only_the_experiments_that_ran():
    analysis = minimal_context("mlp")["analysis"]
    assert report.title(analysis) == "Which policy-gradient design choices matter? Experiments: Memory"


# Writing the report: UTF-8 whatever the locale, nothing left behind on failure.

WRITE_UNDER_C_LOCALE = """
import json
import sys
from pathlib import Path
from bench.paper.report import render, write_atomic
from tests.test_report import minimal_context
label = json.loads(sys.argv[2])  # passed as ASCII JSON: under this locale argv is ASCII too
context = minimal_context(label)
context["title"] = label
write_atomic(Path(sys.argv[1]), render(context))
"""


@pytest.mark.parametrize("label", ["Mémoire — GRU (π ≈ 3.14)", "記憶 ✓ ü"])
def test_the_report_is_utf8_under_a_c_locale(tmp_path, label):
    import os
    import subprocess
    import sys

    # An ASCII locale with Python's UTF-8 mode and locale coercion off: open() defaults to ASCII.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0",
           "PYTHONIOENCODING": "utf-8"}
    out = tmp_path / "report" / "index.html"
    proc = subprocess.run([sys.executable, "-c", WRITE_UNDER_C_LOCALE, str(out), json.dumps(label)], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = out.read_bytes().decode("utf-8")
    assert f"<h1>{label}</h1>" in html and f"<title>{label}</title>" in html
    assert [p.name for p in out.parent.iterdir()] == ["index.html"]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "index.html")


def test_a_failed_rename_leaves_no_temporary_file_and_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "index.html"
    out.write_text("old report")

    def refuse(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        report.write_atomic(out, "new report")
    assert _leftovers(tmp_path) == [] and out.read_text() == "old report"


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "index.html"
    with pytest.raises(TypeError):
        report.write_atomic(out, b"bytes, not text")  # the stream refuses it half-way
    assert _leftovers(tmp_path) == [] and not out.exists()


# What the report was built from: an incomplete set of runs says so; the runs table by digest.

@pytest.mark.parametrize("finished, planned, expected", [
    (5, 6, "T (incomplete: 5 of 6 runs finished)"),
    (0, 2, "T (incomplete: 0 of 2 runs finished)"),
    (6, 6, "T"),
])
def test_the_title_says_when_not_every_planned_run_finished(finished, planned, expected):
    assert report.incomplete_title("T", {"planned": planned, "finished": finished}) == expected


def _report_inputs(tmp_path: Path, statuses: list[str]) -> list[str]:
    """The files ``report.main`` reads, for a smoke-profile plan whose runs have ``statuses``."""
    import pandas as pd

    from bench.pipeline.plan import load_plan

    config = {**_base_config(), "profile": "smoke"}
    plan = load_plan(config, check_registries=False)
    analysis = minimal_context("mlp")["analysis"]
    analysis["counts"] = {"planned": len(statuses), "finished": statuses.count("finished")}
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "analysis.json").write_text(json.dumps(analysis))
    (tmp_path / "tables").mkdir()
    (tmp_path / "figures").mkdir()
    keys = [{"env": run.env, "agent": run.agent, "variant": run.variant, "seed": run.seed} for run in plan.runs]
    pd.DataFrame([{**key, "status": status} for key, status in zip(keys, statuses)]).to_parquet(
        tmp_path / "tables" / "runs.parquet", index=False)
    pd.DataFrame([{**key, "device": "cpu", "cpu_model": "x", "gpu_model": None, "git_commit": "abc"} for key in keys]
                 ).to_parquet(tmp_path / "tables" / "costs.parquet", index=False)
    return ["--config-json", json.dumps(config), "--analysis", str(tmp_path / "analysis"),
            "--tables", str(tmp_path / "tables"), "--figures", str(tmp_path / "figures"),
            "--out", str(tmp_path / "report" / "index.html")]


@pytest.mark.parametrize("statuses, incomplete", [
    (["finished"] * 5 + ["failed"], "incomplete: 5 of 6 runs finished"),
    (["finished"] * 4 + ["missing", "failed"], "incomplete: 4 of 6 runs finished"),
    (["finished"] * 6, None),
])
def test_the_built_report_states_incompleteness_and_names_its_runs_table(tmp_path, monkeypatch, statuses, incomplete):
    import hashlib

    arguments = _report_inputs(tmp_path, statuses)
    seen = {}
    monkeypatch.setattr(report, "render", lambda context: seen.setdefault("context", context) and "<html></html>")
    assert report.main(arguments) == 0
    context = seen["context"]
    digest = hashlib.sha256((tmp_path / "tables" / "runs.parquet").read_bytes()).hexdigest()[:16]
    assert context["provenance"]["runs_table"] == digest
    if incomplete:
        assert context["title"].endswith(f"({incomplete})")
    else:
        assert "incomplete" not in context["title"]
    assert (tmp_path / "report" / "index.html").read_text() == "<html></html>"


def test_a_subset_report_says_it_is_partial():
    context = minimal_context("mlp")
    assert 'id="partial"' not in render(context)
    context["plan"]["subset"] = "envs=CartPole-P"
    context["provenance"].update(resolved="profile: full", subset_note="this report covers only memory on CartPole-P.")
    html = render(context)
    assert 'id="partial"' in html and "envs=CartPole-P" in html
    appendix = html[html.index('id="reproducibility"'):]
    assert appendix.index("this report covers only memory on CartPole-P.") < appendix.index("profile: full")


def _sweep_section(html: str) -> str:
    return html[html.index('id="settings-sweep"'):]


def test_the_settings_sweep_appendix_appears_only_when_the_tune_experiment_ran():
    context = minimal_context("mlp")
    quiet = _sweep_section(render(context))  # no "sweeps" in an analysis without one
    assert 'class="sweep"' not in quiet
    assert "docs/evidence.md" in quiet and "snakemake --cores 2 --config profile=tune" in quiet
    assert render({**context, "analysis": {**context["analysis"], "sweeps": {}}}).count('class="sweep"') == 0
    cell = {"label": "mlp [lr=0.003, num_envs=64]", "settings_text": "lr=0.003, num_envs=64", "text": "0.8 [0.7, 0.9]",
            "n": 3, "chosen": True}
    other = {**cell, "label": "mlp [lr=0.01, num_envs=64]", "settings_text": "lr=0.01, num_envs=64", "chosen": False,
             "text": "0.5 [0.2, 0.6]"}
    context["analysis"]["sweeps"] = {"tune": {
        "name": "tune", "title": "Settings sweep", "agents_text": "mlp", "grid_text": "lr ∈ {0.003, 0.01} × num_envs ∈ {64}",
        "combinations": 2, "seeds": 3,
        "rows": [{"env": "CartPole-v1", "score": "normalised score", "note": "", "cells": [cell, other]},
                 {"env": "GaussianTarget", "score": "normalised score", "cells": [other],
                  "note": "the configured settings (lr=0.003, num_envs=16) are not in this grid"}]}}
    context["figures"] = {"sensitivity_tune": "data:image/svg+xml;base64,AAAA"}
    section = _sweep_section(render(context))
    assert "docs/evidence.md" not in section
    assert "lr ∈ {0.003, 0.01} × num_envs ∈ {64} (2 combinations), 3 planned seeds per combination" in section
    assert ("Every variant of every experiment on an environment then trains with that environment's chosen settings"
            in " ".join(section.split()))
    assert 'src="data:image/svg+xml;base64,AAAA"' in section
    assert ('<tr class="chosen"><td>CartPole-v1</td><td><code>lr=0.003, num_envs=64</code></td><td>0.8 [0.7, 0.9]</td>'
            '<td>3</td><td>chosen</td></tr>') in section
    assert section.count('<tr class="chosen">') == 1
    assert "the configured settings (lr=0.003, num_envs=16) are not in this grid" in section


def test_budgets_are_written_with_thousands_separated():
    context = minimal_context("gru")
    context["environment_settings"] = [{"env": "CartPole-P", "steps": 300000, "settings": "defaults"}]
    assert "<tr><td>CartPole-P</td><td>300,000</td><td><code>defaults</code></td></tr>" in render(context)


def test_the_speed_ratio_and_the_replicates_are_shown_with_what_limits_them():
    context = minimal_context("gru")
    context["analysis"]["gru_vs_gru_cell"] = {"text": "1.14", "pairs": 10,
                                              "pairs_text": "median over 10 paired runs; single pairs from 0.830 to 1.49"}
    context["analysis"]["bootstrap_text"] = "2,000 replicates for the tables, 1,000 for the P(X > Y) tests"
    html = " ".join(render(context).split())
    assert ("trains at 1.14&times; the steps per second of <code>gru_cell</code> (median over 10 paired runs; "
            "single pairs from 0.830 to 1.49;") in html
    assert "Bootstrap: 2,000 replicates for the tables, 1,000 for the P(X &gt; Y) tests; seed" in html


def test_each_pair_shows_its_learning_area_verdict_or_why_it_has_none():
    html = render(minimal_context("gru"))
    ablations = html[html.index('id="ablations"'):]
    assert "verdict, area under the learning curve" in ablations
    assert "better, P(X &gt; Y) = 0.9 [0.8, 1.0], Holm-adjusted p = 0.01" in ablations
    assert "(per task: CartPole-v1 0.90 (final scores at the ceiling))" in ablations
    assert "(per task: CartPole-v1 0.60)" in ablations
    # Tasks that disagree are said so beside the verdict they qualify, and nothing is said where they agree.
    assert ("0.90 (final scores at the ceiling))</span> <strong>Note: the tasks point opposite ways, and the aggregate "
            "averages them: gru ahead on CartPole-P (P(gru &gt; mlp) 1.00)") in ablations
    assert ablations.count("Note: the tasks point opposite ways") == 1
    context = minimal_context("gru")
    pair = context["analysis"]["experiments"]["memory"]["improvements"][0]
    pair.update(learning_area=None, learning_area_note="not compared: they act with different randomness by design")
    assert "not compared: they act with different randomness by design" in render(context)


def test_the_setup_says_what_a_run_label_names_and_what_the_critic_reads():
    html = " ".join(render(minimal_context("gru")).split())
    setup = html[html.index('id="setup"'):html.index("</section>", html.index('id="setup"'))]
    assert "the brackets list every setting in which it differs from the hyperparameter defaults above" in setup
    assert "the critic remembers what the actor remembers and its loss does not train the actor" in " ".join(setup.split())
