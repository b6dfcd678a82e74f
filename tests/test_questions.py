"""The forum questions: one registered module each, answered only when their runs are planned."""

from __future__ import annotations

import dataclasses
import re

from bench.paper import analysis, questions
from tests.test_analysis import CONFIG, SCORES, _fail, _with_learning_areas, make_context, with_six_seeds

GAUSSIAN = {**CONFIG, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": ["CartPole-v1", "GaussianTarget"]}}}
#: Six seeds: a single-task answer's permutation test, 4 seeds against 4, cannot reach p < 2/70 (twice that after Holm).
SIX = {**GAUSSIAN, "profiles": with_six_seeds(SCORES)[0]["profiles"]}


def test_every_question_is_registered_with_its_text_and_runs():
    registered = {q.name: q for q in questions.questions()}
    assert {"hidden_state", "recurrent_forms", "digit_accuracy", "gaussian_baseline"} <= set(registered)
    for question in registered.values():
        assert question.text.endswith("?") and question.experiment
        # In the project's own words: no pointers to files or threads outside the repository.
        assert not re.search(r"thread|seeds/|\.txt|\.\./|https?:", question.text, re.IGNORECASE), question.text


def test_a_question_whose_runs_are_not_planned_is_skipped(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)  # 4-seed hand-made tables (tests/test_analysis.py)
    context = make_context()  # the baseline experiment on CartPole only: no GaussianTarget, no memory, no bandits
    names = [a["name"] for a in analysis.analyse(context, doctor=[])["questions"]]
    assert names == []
    gaussian = make_context(config=SIX, scores=with_six_seeds(SCORES)[1])
    answered = {a["name"]: a for a in analysis.analyse(gaussian, doctor=[])["questions"]}
    assert list(answered) == ["gaussian_baseline"]
    text = answered["gaussian_baseline"]["answer"]
    # Words with their numbers: the cells, and each baseline against none with its interval and its p-value,
    # Holm-adjusted over the answer's own tests (its two final-score tests here: these tables record no area).
    assert "mlp [baseline=critic]: 450 [" in text
    assert ("Running mean (X) versus no baseline (Y) on GaussianTarget, final reward: no clear difference, "
            "P(X > Y) = 0.583 [") in text
    assert "Critic (X) versus no baseline (Y) on GaussianTarget, final reward: better, P(X > Y) = 1.00 [" in text
    assert text.count("area under the learning curve (the reward earned while learning): not recorded for every run") == 2
    assert "Holm over these 2 tests." in text and "(a single test)" not in text
    assert "standard deviation shrinks" not in text  # no area compared, no caveat on it
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 5)
    text = {a["name"]: a for a in analysis.analyse(make_context(config=GAUSSIAN), doctor=[])["questions"]}
    assert "too few seeds to tell, P(X > Y) = 0.625 from 4 seeds" in text["gaussian_baseline"]["answer"]
    assert "Holm" not in text["gaussian_baseline"]["answer"]  # no test, no family


def test_answers_tell_apart_variants_that_end_tied_by_the_area_under_their_learning_curves(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    # Every baseline ends at the same reward; the running mean earned more while learning, the critic did not.
    ended = {label: [-0.02, -0.01, -0.015, -0.012, -0.018, -0.011]
             for label in ("mlp [baseline=none]", "mlp [baseline=running_mean]", "mlp [baseline=critic]")}
    areas = {"mlp [baseline=none]": [0.30, 0.32, 0.34, 0.36, 0.38, 0.40],
             "mlp [baseline=running_mean]": [0.80, 0.82, 0.84, 0.86, 0.88, 0.90],
             "mlp [baseline=critic]": [0.31, 0.33, 0.35, 0.37, 0.39, 0.41]}
    context = _with_learning_areas(make_context(config=SIX, scores={**with_six_seeds(SCORES)[1], **ended}), areas)
    text = {a["name"]: a for a in analysis.analyse(context, doctor=[])["questions"]}["gaussian_baseline"]["answer"]
    running, critic = text.split("Running mean (X)")[1].split("Critic (X)")
    assert "final reward: no clear difference, P(X > Y) = 0.500 [" in running
    # Exact: 2 of the 924 splits of 6 against 6 are as extreme, times the answer's 4 tests (Holm).
    assert ("(the reward earned while learning): better, P(X > Y) = 1.00 [1.00, 1.00], Holm-adjusted p = "
            f"{analysis.fmt(4 * 2 / 924, 2)}") in running
    assert "(the reward earned while learning): no clear difference, P(X > Y) = 0.583 [" in critic
    assert "Holm over these 4 tests." in text
    assert "counts how soon the policy's standard deviation shrinks as well" in text  # what the area also measures


def test_the_area_is_not_compared_between_variants_that_explore_differently_by_design(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    context = make_context()
    membership = context.membership.copy()
    membership.loc[membership["label"] == "mlp [baseline=critic]", "options"] = '{"entropy_coef": 0.05}'
    context = _with_learning_areas(dataclasses.replace(context, membership=membership),
                                   {label: [0.3, 0.4, 0.5, 0.6] for label in SCORES})
    qctx = analysis.QuestionContext(data=context, experiments={}, bandits=[])
    found, family = qctx.compare("baseline", [("mlp [baseline=critic]", "mlp [baseline=none]"),
                                              ("mlp [baseline=running_mean]", "mlp [baseline=none]")], ["CartPole-v1"])
    critic = found[("mlp [baseline=critic]", "mlp [baseline=none]")]
    assert critic["area"] == ("not compared (mlp [baseline=critic] and mlp [baseline=none] act with different "
                              "randomness by design: entropy_coef)") and critic["area_reason"] == "exploration"
    running = found[("mlp [baseline=running_mean]", "mlp [baseline=none]")]
    # Compared (a family of three at 4 seeds on one task, which cannot reject: "not testable", not "no difference").
    assert running["area"].startswith("not testable") and running["area_reason"] == ""
    assert family == "Holm over these 3 tests"  # two final scores, one area


def test_a_comparison_family_holds_only_what_it_tests(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    areas = {label: [0.3, 0.4, 0.5, 0.6] for label in SCORES}
    context = _fail(_with_learning_areas(make_context(), areas), "CartPole-v1", "mlp [baseline=critic]", [1, 2, 3])
    qctx = analysis.QuestionContext(data=context, experiments={}, bandits=[])
    pairs = [("mlp [baseline=critic]", "mlp [baseline=none]"), ("mlp [baseline=running_mean]", "mlp [baseline=none]")]
    found, family = qctx.compare("baseline", pairs, ["CartPole-v1"])
    # One seed left to the critic: its two comparisons test nothing and stay out of the family.
    assert found[pairs[0]]["final"] == "too few seeds to tell, P(X > Y) = 1.00 from 1 seed (a test needs 2)"
    assert found[pairs[0]]["area"].startswith("too few seeds to tell") and found[pairs[0]]["n"] == (
        "n = 1 and 4 seeds per task")
    assert family == "Holm over these 2 tests"
    # A single test is reported unadjusted, with no family.
    single, family = qctx.compare("baseline", pairs[1:], ["CartPole-v1"], final=False)
    assert single[pairs[1]]["area"].endswith("(a single test)") and family == ""
    # An area missing for one run is "not recorded"; a variant with no finished run is said so, not tested.
    runs = context.runs.copy()
    runs.loc[(runs["label"] == "mlp [baseline=running_mean]") & (runs["seed"] == 2), analysis.LEARNING_AREA] = float("nan")
    qctx = analysis.QuestionContext(data=dataclasses.replace(context, runs=runs), experiments={}, bandits=[])
    missing, _ = qctx.compare("baseline", pairs[1:], ["CartPole-v1"])
    assert missing[pairs[1]]["area_reason"] == "not recorded" and missing[pairs[1]]["area"] == "not recorded for every run"
    gone = _fail(context, "CartPole-v1", "mlp [baseline=critic]", [0])
    empty, family = analysis.QuestionContext(data=gone, experiments={}, bandits=[]).compare(
        "baseline", pairs[:1], ["CartPole-v1"])
    assert empty[pairs[0]]["final"] == "not compared (mlp [baseline=critic] has no finished run on every task)"
    assert empty[pairs[0]]["area_reason"] == "no runs" and family == ""


def test_an_answer_whose_family_cannot_reject_at_its_seeds_says_not_testable(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    pair = ("mlp [baseline=critic]", "mlp [baseline=none]")  # 400s against 20s: as far apart as scores go
    areas = {label: [0.3, 0.4, 0.5, 0.6] for label in SCORES}
    qctx = analysis.QuestionContext(data=_with_learning_areas(make_context(), areas), experiments={}, bandits=[])
    # One task, 4 seeds against 4, two tests (final score and area): p >= 2/70 each, so Holm's smallest is 0.057.
    found, family = qctx.compare("baseline", [pair], ["CartPole-v1"])
    assert family == "Holm over these 2 tests"
    assert found[pair]["final"].startswith("not testable (no power at α = 0.05 with n = 4: its adjusted p cannot "
                                           "fall below 0.057), P(X > Y) = 1.00")
    # Without recorded areas the final score is one test, unadjusted: 2/70 < 0.05, and it rejects.
    alone, _ = analysis.QuestionContext(data=make_context(), experiments={}, bandits=[]).compare(
        "baseline", [pair], ["CartPole-v1"])
    assert alone[pair]["final"].startswith("better")


def test_adding_a_question_is_one_registration():
    @questions.question("test_only", experiment="baseline", agents=("mlp",), envs=("CartPole-v1",), order=0,
                        text="Is the critic's score above 300?")
    def answer(ctx):
        cell = ctx.cells("baseline", "CartPole-v1")["mlp [baseline=critic]"]
        return f"yes: {cell['text']}" if cell["low"] > 300 else "no"

    try:
        answered = analysis.analyse(make_context(), doctor=[])["questions"]
        assert answered[0]["name"] == "test_only" and answered[0]["answer"].startswith("yes: 430 [")
    finally:
        questions._REGISTRY.pop("test_only")
    assert "test_only" not in {q.name for q in questions.questions()}


def test_an_answer_says_when_seeds_were_dropped_from_its_matrix(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)  # 4-seed hand-made tables (tests/test_analysis.py)
    config = {**CONFIG, "experiments": {"memory": {"agents": ["gru", "gru_reset"], "envs": ["CartPole-P", "ContinuousCartPole-P"]}}}
    scores = {"gru": [400.0, 420.0, 440.0, 460.0], "gru_reset": [20.0, 22.0, 24.0, 26.0]}

    def answer(context: analysis.Context) -> str:
        return {a["name"]: a["answer"] for a in analysis.analyse(context, doctor=[])["questions"]}["hidden_state"]

    whole = answer(make_context(config=config, scores=scores))
    assert "Seeds dropped" not in whole and "n = 4 and 4 seeds per task" in whole
    assert "area under the learning curve (the return earned while learning): not recorded for every run" in whole
    learned = answer(_with_learning_areas(make_context(config=config, scores=scores),
                                          {"gru": [0.5, 0.6, 0.7, 0.8], "gru_reset": [0.1, 0.2, 0.6, 0.1]}))
    # Two tasks of 4 seeds against 4: 70^2 splits, all enumerated; 2 as extreme, times 2 tests (Holm).
    assert "normalised final score: better, P(X > Y) = 1.00 [1.00, 1.00], Holm-adjusted p < 0.001" in learned
    assert ("area under the learning curve (the return earned while learning): better, P(X > Y) = 0.906 ["
            in learned and "Holm over these 2 tests." in learned)
    short = answer(_fail(make_context(config=config, scores=scores), "ContinuousCartPole-P", "gru", [3]))
    assert "n = 3 and 4 seeds per task" in short
    assert "Seeds dropped from this comparison: 1 finished seed left out" in short
    assert "gru: 1 finished seed dropped to keep 3 per environment (ContinuousCartPole-P has 3)" in short


def test_an_answer_says_when_its_task_has_every_variant_at_the_ceiling(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    # GaussianTarget (0 is perfect, random -9.05 or so): every baseline within 0.02 of the optimum, running mean
    # consistently a hair above none. P(X > Y) calls that "better"; the answer must say how little it is.
    config = {**SIX, "experiments": {"baseline": {**CONFIG["experiments"]["baseline"], "envs": ["GaussianTarget"]}}}
    scores = with_six_seeds({"mlp [baseline=none]": [-0.020, -0.019, -0.018, -0.017],
                             "mlp [baseline=running_mean]": [-0.010, -0.009, -0.008, -0.007],
                             "mlp [baseline=critic]": [-0.012, -0.011, -0.010, -0.009]})[1]
    context = make_context(config=config, scores=scores)
    context.runs["initial_score"] = -9.05  # the untrained policy's score, as measured (the tables' default is 10)
    result = analysis.analyse(context, doctor=[])
    assert result["experiments"]["baseline"]["ceiling"] == ["GaussianTarget"]
    answer = {a["name"]: a["answer"] for a in result["questions"]}["gaussian_baseline"]
    assert "better, P(X > Y) = 1.00" in answer
    assert "Every variant's final score is at the ceiling on GaussianTarget (normalised ≥ 0.95)" in answer
    assert "a final-score difference there is under 5% of the distance from the random policy to the target" in answer
    assert "(the area under the learning curve, which also counts the way there, is not bounded by it)" in answer


def test_the_recurrent_forms_answer_says_how_many_seeds_solve_cartpole_p(monkeypatch):
    monkeypatch.setattr(analysis, "MIN_TEST_SEEDS", 2)
    config = {**SIX, "experiments": {"memory": {"agents": ["gru_cell", "gru", "window", "lstm", "mlp"],
                                                "envs": ["CartPole-P"]}}}
    scores = {"gru_cell": [480.0, 300.0, 476.0, 200.0, 250.0, 150.0], "gru": [400.0, 420.0, 440.0, 460.0, 410.0, 430.0],
              "window": [100.0, 120.0, 140.0, 160.0, 110.0, 130.0], "lstm": [300.0, 320.0, 340.0, 360.0, 310.0, 350.0],
              "mlp": [20.0, 22.0, 24.0, 26.0, 21.0, 23.0]}

    def answer(scores: dict[str, list[float]]) -> str:
        result = analysis.analyse(make_context(config=config, scores=scores), doctor=[])
        return {a["name"]: a["answer"] for a in result["questions"]}["recurrent_forms"]

    text = answer(scores)
    assert "lstm: 330 [" in text  # every memory variant of the experiment, not only the three forms asked about
    assert ("No variant reaches 475 (gymnasium's reward threshold) on more than half of its seeds at this budget "
            "(seeds at or above: gru_cell 2 of 6, gru 0 of 6, window 0 of 6, lstm 0 of 6, mlp 0 of 6).") in text
    assert "Return earned while learning" not in text  # these tables record no area under the learning curve
    areas = {"gru_cell": [0.50, 0.52, 0.54, 0.56, 0.58, 0.60], "gru": [0.50, 0.51, 0.53, 0.55, 0.57, 0.59],
             "window": [0.10, 0.12, 0.14, 0.16, 0.18, 0.20], "lstm": [0.3] * 6, "mlp": [0.01] * 6}
    result = analysis.analyse(_with_learning_areas(make_context(config=config, scores=scores), areas), doctor=[])
    fast = {a["name"]: a for a in result["questions"]}["recurrent_forms"]["answer"].split("Return earned while learning")[1]
    assert "gru_cell: no clear difference, P(X > Y) = 0.569 [" in fast
    assert f"window: worse, P(X > Y) = 0 [0, 0], Holm-adjusted p = {analysis.fmt(2 * 2 / 924, 2)}" in fast
    assert "Holm over these 2 tests, a family of their own apart from the ablation table's." in fast
    assert "lstm" not in fast  # the forms the question names
    text = answer({**scores, "gru": [480.0, 490.0, 500.0, 300.0, 476.0, 200.0]})
    assert ("Seeds that end at or above 475 (gymnasium's reward threshold): gru_cell 2 of 6, gru 4 of 6," in text
            and "No variant" not in text)


def test_the_recurrent_forms_answer_says_when_its_table_cannot_separate_anything():
    # Five seeds, five variants on one task: 4 comparisons x 4/252 >= 0.05, so even mlp's 20s against gru's 400s
    # cannot be told apart; the answer must say that the table is not testable there, not that they tie.
    config = {**CONFIG, "profiles": {"tiny": {**CONFIG["profiles"]["tiny"], "seeds": 5}},
              "experiments": {"memory": {"agents": ["gru_cell", "gru", "window", "lstm", "mlp"], "envs": ["CartPole-P"]}}}
    scores = {"gru_cell": [300.0, 320.0, 340.0, 360.0, 380.0], "gru": [400.0, 420.0, 440.0, 460.0, 480.0],
              "window": [100.0, 120.0, 140.0, 160.0, 180.0], "lstm": [200.0, 220.0, 240.0, 260.0, 280.0],
              "mlp": [20.0, 22.0, 24.0, 26.0, 28.0]}
    result = analysis.analyse(make_context(config=config, scores=scores), doctor=[])
    text = {a["name"]: a["answer"] for a in result["questions"]}["recurrent_forms"]
    assert ("Across all memory variants: not testable (no power at α = 0.05 with n = 5: no adjusted p of this row can "
            "fall below 0.063)") in text
    assert "cannot be separated" not in text
    assert ("Why that table gives no verdict at these seeds: With these seeds a permutation p-value is at "
            "least 0.016") in text
    six_config, six_scores = with_six_seeds(scores)
    six = analysis.analyse(make_context(config={**config, "profiles": six_config["profiles"]}, scores=six_scores),
                           doctor=[])
    assert "Why that table" not in {a["name"]: a["answer"] for a in six["questions"]}["recurrent_forms"]
