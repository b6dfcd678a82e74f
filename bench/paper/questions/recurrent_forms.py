"""GRUCell unrolled by hand, a GRU layer over sequences, or a window of recent observations?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext

ENV = "CartPole-P"
FORMS = ("gru_cell", "gru", "window", "mlp")


@question("recurrent_forms", order=20, experiment="memory", agents=("gru_cell", "gru", "window"), envs=(ENV,),
          text="A GRUCell unrolled by hand, a GRU layer run over whole sequences, or a window of the last 5 observations: "
               "which learns CartPole with hidden velocities, and how fast does each run?")
def answer(ctx: "QuestionContext") -> str | None:
    """Final scores of the memory forms on CartPole-P, the table's verdict, and the layer-vs-cell speed ratio."""
    cells = ctx.cells("memory", ENV)
    parts = [f"{name}: {cells[name]['text']}" for name in FORMS if name in cells and cells[name]["n"]]
    if not parts:
        return None
    row = next(r for r in ctx.experiments["memory"]["table"]["rows"] if r["env"] == ENV)
    speed = (f" The GRU layer runs at {ctx.speed['text']} times the steps per second of the hand-unrolled GRUCell."
             if ctx.speed else "")
    return f"Final score on {ENV} (IQM [95 % CI]): " + "; ".join(parts) + f". Across all memory variants: {row['verdict']}." + speed
