"""What accuracy does REINFORCE reach on the digit-naming task, and after how many samples?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext


@question("digit_accuracy", order=30, experiment="bandits", agents=("mlp",), envs=("DigitMatch-10",),
          text="REINFORCE on a one-step task (see a digit, name it; reward minus the distance): what exact-match accuracy "
               "does it reach with 10 and with 100 actions, and after how many samples?")
def answer(ctx: "QuestionContext") -> str | None:
    """Accuracy (IQM [CI]) and the censored median samples to 90 % training accuracy, per DigitMatch task."""
    sentences = []
    for entry in ctx.bandits:
        if not entry["env"].startswith("DigitMatch"):
            continue
        # solve_seeds counts failed runs too (never reaching 90 %); seeds is the finished ones behind the accuracy
        reached = (f"{entry['reached_90']} of {entry['solve_seeds']} seeds reached 90 % training accuracy; "
                   f"median samples to get there (unreached seeds censored): {entry['samples_to_90_text']}")
        sentences.append(f"{entry['env']}: exact-match accuracy {entry['accuracy_text']} (IQM [95 % CI], "
                         f"n = {entry['seeds']}) after {entry['samples']:,} samples; {reached}.")
    return " ".join(sentences) or None
