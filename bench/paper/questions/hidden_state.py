"""Does a GRU policy need its hidden state fed back, or may it be reset every step?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench import envs
from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext


@question("hidden_state", order=10, experiment="memory", agents=("gru", "gru_reset"),
          text="Does a GRU policy need its hidden state fed back from step to step, or can it be reset to zero every step?")
def answer(ctx: "QuestionContext") -> str | None:
    """P(gru > gru_reset) on the memory experiment's partially observable tasks: final score and area under
    the learning curve."""
    partial = ctx.informative_envs("memory", [e for e in ctx.data.plan.experiments["memory"]["envs"]
                                              if envs.spec_for(e).partially_observable])
    if not partial or not all(len(ctx.scores("memory", label, partial)) for label in ("gru", "gru_reset")):
        return None
    compared, family = ctx.compare("memory", [("gru", "gru_reset")], partial)
    found = compared[("gru", "gru_reset")]
    note = " ".join(text for text in (family and f"{family}.", ctx.seed_note("memory", ["gru", "gru_reset"], partial),
                                      ctx.ceiling_note("memory", partial)) if text)
    return (f"On the partially observable tasks ({', '.join(partial)}), the GRU that feeds its state back versus the "
            f"same GRU fed a zero state at every step (its recurrent weights then multiply zero, and gru_reset drops them; "
            f"X = fed back, Y = reset), normalised final score: {found['final']}; area under the learning curve (the "
            f"return earned while learning): {found['area']}; {found['n']}." + (f" {note}" if note else ""))
