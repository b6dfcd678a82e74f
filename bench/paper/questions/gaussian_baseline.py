"""Does a baseline help a Gaussian policy learn to output a target value?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext

ENV = "GaussianTarget"
#: each baseline (X) against none (Y), for the mlp agent, with the name the answer gives it
PAIRS = {("mlp [baseline=running_mean]", "mlp [baseline=none]"): "Running mean",
         ("mlp [baseline=critic]", "mlp [baseline=none]"): "Critic"}

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
    pairs = [pair for pair in PAIRS if all(len(ctx.scores("baseline", label, [ENV])) for label in pair)]
    found, family = ctx.compare("baseline", pairs, [ENV])
    extra = ""
    for pair in pairs:
        texts = found[pair]
        extra += (f" {PAIRS[pair]} (X) versus no baseline (Y) on {ENV}, final reward: {texts['final']}; area under "
                  f"the learning curve (the reward earned while learning): {texts['area']}; {texts['n']}.")
    if any(found[pair]["area_reason"] == "" for pair in pairs):
        # The training reward is of sampled actions: a learned standard deviation that shrinks sooner earns more.
        extra += (" The reward earned while learning is of sampled actions, so it counts how soon the policy's "
                  "standard deviation shrinks as well as how soon its mean reaches the target.")
    ceiling = ctx.ceiling_note("baseline", [ENV]) if pairs else ""
    extra += "".join(f" {text}" for text in (family and f"{family}.", ceiling) if text)
    return f"Final reward on {ENV} (IQM [95 % CI]; 0 is perfect): " + "; ".join(parts) + "." + extra
