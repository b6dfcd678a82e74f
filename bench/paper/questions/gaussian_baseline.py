"""Does a baseline help a Gaussian policy learn to output a target value?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext

ENV = "GaussianTarget"
#: each baseline (X) against none (Y), for the mlp agent
PAIRS = (("mlp [baseline=running_mean]", "mlp [baseline=none]"), ("mlp [baseline=critic]", "mlp [baseline=none]"))


@question("gaussian_baseline", order=40, experiment="baseline", agents=("mlp",), envs=(ENV,),
          text="Does subtracting a baseline (a running mean of returns, or a learned critic) help a Gaussian policy "
               "learn to output a target value?")
def answer(ctx: "QuestionContext") -> str | None:
    """Final reward per baseline on GaussianTarget, and each baseline against none on that task: P(X > Y) of
    the final score and of the area under the learning curve (a tie at the ceiling can still learn faster)."""
    cells = ctx.cells("baseline", ENV)
    parts = [f"{label}: {cell['text']}" for label, cell in cells.items() if cell["n"] and label.startswith("mlp")]
    if not parts:
        return None
    pairs = [(x, y) for x, y in PAIRS if len(ctx.scores("baseline", x, [ENV])) and len(ctx.scores("baseline", y, [ENV]))]
    found = ctx.compare("baseline", pairs, [ENV])
    extra = ""
    for x, y in pairs:
        name = x.split("=")[1].rstrip("]").replace("_", " ").capitalize()
        texts = found[(x, y)]
        extra += (f" {name} (X) versus no baseline (Y) on {ENV}, final reward: {texts['final']}; area under the "
                  f"learning curve (the reward earned while learning): {texts['area']}; {texts['n']}.")
    family = next(iter(found.values()))["family"] if found else ""
    ceiling = ctx.ceiling_note("baseline", [ENV]) if pairs else ""
    extra += "".join(f" {text}" for text in (family and f"{family}.", ceiling) if text)
    return f"Final reward on {ENV} (IQM [95 % CI]; 0 is perfect): " + "; ".join(parts) + "." + extra
