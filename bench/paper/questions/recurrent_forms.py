"""GRUCell unrolled by hand, a GRU layer over sequences, or a window of recent observations?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench import envs
from bench.paper.questions import question

if TYPE_CHECKING:
    from bench.paper.analysis import QuestionContext

ENV = "CartPole-P"
#: the forms the question names, first; then every other variant of the memory experiment
FORMS = ("gru_cell", "gru", "window")


@question("recurrent_forms", order=20, experiment="memory", agents=("gru_cell", "gru", "window"), envs=(ENV,),
          text="A GRUCell unrolled by hand, a GRU layer run over whole sequences, or a window of the last 5 observations: "
               "which learns CartPole with hidden velocities, and how fast does each run?")
def answer(ctx: "QuestionContext") -> str | None:
    """Final scores of the memory forms on CartPole-P, how many seeds of each solve it, the table's verdict,
    the return each form earned while learning against gru's, and the layer-vs-cell speed ratio."""
    cells = ctx.cells("memory", ENV)
    names = [name for name in (*FORMS, *(label for label in cells if label not in FORMS))
             if name in cells and cells[name]["n"]]
    if not names:
        return None
    parts = [f"{name}: {cells[name]['text']}" for name in names]
    row = next(r for r in ctx.experiments["memory"]["table"]["rows"] if r["env"] == ENV)
    return (f"Final score on {ENV} (IQM [95 % CI]): " + "; ".join(parts) + ". " + _solved(ctx, names)
            + f" Across all memory variants: {row['verdict']}." + _unresolved(ctx) + _return_while_learning(ctx, names)
            + _speed(ctx))


def _unresolved(ctx: "QuestionContext") -> str:
    """Why the table's verdict may separate nothing: its family cannot reject at these seeds (its note)."""
    table = ctx.experiments["memory"]["table"]
    return f" Why that table gives no verdict at these seeds: {table['resolution_note']}" if table["resolution_note"] else ""


def _return_while_learning(ctx: "QuestionContext", names: list[str]) -> str:
    """The other forms against the GRU layer on the area under the learning curve (the return earned while
    learning, which counts how fast a form learns as well as where it ends); "" where no area was recorded."""
    pairs = [(name, "gru") for name in FORMS if name != "gru" and name in names] if "gru" in names else []
    found, family = ctx.compare("memory", pairs, [ENV], final=False)
    parts = [f"{x}: {texts['area']} ({texts['n']})" for (x, _), texts in found.items() if texts["area_reason"] == ""]
    if not parts:
        return ""
    return (f" Return earned while learning (normalised area under the learning curve) on {ENV}, each form (X) "
            f"against gru (Y): " + "; ".join(parts)
            + (f"; {family}, a family of their own apart from the ablation table's." if family else "."))


def _solved(ctx: "QuestionContext", names: list[str]) -> str:
    """How many seeds of each form end at or above the task's success score (gymnasium's reward threshold)."""
    threshold = envs.spec_for(ENV).success_score
    counts = {name: ctx.scores("memory", name, [ENV], "final_score")[:, 0] for name in names}
    solved = {name: int((scores >= threshold).sum()) for name, scores in counts.items()}
    tally = ", ".join(f"{name} {solved[name]} of {len(counts[name])}" for name in names)
    if not any(2 * solved[name] > len(counts[name]) for name in names):
        return (f"No variant reaches {threshold:g} (gymnasium's reward threshold) on more than half of its seeds "
                f"at this budget (seeds at or above: {tally}).")
    return f"Seeds that end at or above {threshold:g} (gymnasium's reward threshold): {tally}."


def _speed(ctx: "QuestionContext") -> str:
    return (f" The GRU layer runs at {ctx.speed['text']} times the steps per second of the hand-unrolled GRUCell "
            f"({ctx.speed['pairs_text']})." if ctx.speed else "")
