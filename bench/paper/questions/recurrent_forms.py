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
    and the layer-vs-cell speed ratio."""
    cells = ctx.cells("memory", ENV)
    names = [name for name in (*FORMS, *(label for label in cells if label not in FORMS))
             if name in cells and cells[name]["n"]]
    if not names:
        return None
    parts = [f"{name}: {cells[name]['text']}" for name in names]
    row = next(r for r in ctx.experiments["memory"]["table"]["rows"] if r["env"] == ENV)
    return (f"Final score on {ENV} (IQM [95 % CI]): " + "; ".join(parts) + ". " + _solved(ctx, names)
            + f" Across all memory variants: {row['verdict']}." + _learning_speed(ctx, names) + _speed(ctx))


def _learning_speed(ctx: "QuestionContext", names: list[str]) -> str:
    """The other forms against the GRU layer on the area under the learning curve (the return earned while
    learning): forms that end tied can still learn at different speeds."""
    pairs = [(name, "gru") for name in FORMS if name != "gru" and name in names] if "gru" in names else []
    found = ctx.compare("memory", pairs, [ENV], final=False)
    parts = [f"{x}: {texts['area']} ({texts['n']})" for (x, _), texts in found.items()
             if not texts["area"].startswith("not recorded")]  # tables aggregated before the area existed
    if not parts:
        return ""
    family = next(iter(found.values()))["family"]
    return (f" How fast each learns, the area under its learning curve on {ENV} against gru's (X = the form named, "
            f"Y = gru): " + "; ".join(parts) + (f"; {family}." if family else "."))


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
