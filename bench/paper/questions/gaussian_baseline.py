"""Does a baseline help a Gaussian policy learn to output a target value?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext

ENV = "GaussianTarget"


@question("gaussian_baseline", order=40, experiment="baseline", agents=("mlp",), envs=(ENV,),
          text="Does subtracting a baseline (a running mean of returns, or a learned critic) help a Gaussian policy "
               "learn to output a target value?")
def answer(ctx: "QuestionContext") -> str | None:
    """Final reward per baseline on GaussianTarget, and P(running mean > none) on that task."""
    cells = ctx.cells("baseline", ENV)
    parts = [f"{label}: {cell['text']}" for label, cell in cells.items() if cell["n"] and label.startswith("mlp")]
    if not parts:
        return None
    mean, none = (ctx.scores("baseline", f"mlp [baseline={b}]", [ENV]) for b in ("running_mean", "none"))
    extra = ""
    if len(mean) and len(none):
        extra = f" Running mean (X) versus no baseline (Y) on {ENV}: {ctx.poi_answer(mean, none)}."
        ceiling = ctx.ceiling_note("baseline", [ENV])
        extra += f" {ceiling}" if ceiling else ""
    return f"Final reward on {ENV} (IQM [95 % CI]; 0 is perfect): " + "; ".join(parts) + "." + extra
