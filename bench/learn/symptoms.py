"""Symptoms of a finished run that did not learn, or lost what it learned, for a mechanical reason.

Read from the rows a run logs (one per update: ``policy_loss``, ``grad_norm``, ``entropy``,
``explained_variance``, ``return_mean``...) after training, so they change nothing in it. They are
recorded in ``run.json`` (``warnings``), the log and the report's appendix; the report also counts
collapsed seeds per table cell from the learning curves (``learned_then_lost``). Pandas only: the
analysis imports this module without torch.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: A run is flagged when a symptom holds for more than this fraction of its updates.
DEGENERATE_FRACTION = 0.5
#: A critic is judged only after this many updates: early in a run, or in a short one, its
#: explained variance on fresh data is often below 0 while it is still learning the scale.
MIN_UPDATES_FOR_CRITIC_WARNING = 40
#: Updates whose critic targets vary less than this fraction of the run's typical large spread (the
#: 90th percentile of its std: a task solved early has a tiny median) are left out of the critic
#: warning: there is next to nothing to explain.
STILL_TARGETS = 0.1
#: The Gaussian mean "sits at a bound" in an update where more than this fraction of its steps are
#: saturated on that one side; a bang-bang controller (CartPole's force) uses both bounds.
STUCK_AT_BOUND = 0.9


def late_explained_variance(table: pd.DataFrame) -> float:
    """The critic's explained variance over the last quarter of a run's updates, pooled:
    ``1 - sum(SSE) / sum(SST)``, each update's SST being ``target_std^2`` (per step).

    Pooled, not averaged: a batch whose targets hardly vary (every episode of a solved task
    alike) has a tiny SST, and its ratio (1 - EV) can be in the hundreds while V is off by
    0.05. Updates whose ``target_std`` is under ``STILL_TARGETS`` of the run's 90th percentile are left
    out (once CartPole sits at the cap there is nothing left to explain); NaN when none is left.
    Without a ``target_std`` column (older runs) it is the plain mean of the last quarter.
    """
    late = table.tail(max(1, len(table) // 4))
    if "target_std" not in table:
        values = late["explained_variance"].dropna()
        return float(values.mean()) if len(values) else math.nan
    late = late[(late["target_std"] >= STILL_TARGETS * float(table["target_std"].quantile(0.9)))
                & late["explained_variance"].notna()]
    if late.empty:
        return math.nan
    sst = late["target_std"] ** 2
    return float(1 - ((1 - late["explained_variance"]) * sst).sum() / sst.sum())


def critic_explained_variance(rows: list[dict[str, Any]]) -> float | None:
    """What ``run.json`` records of the critic's fit (``critic_explained_variance``): the
    :func:`late_explained_variance` of the run's updates (NaN when its late targets hardly vary);
    None for a run without a critic. Read from the logged rows after training: it changes nothing."""
    if not rows or "explained_variance" not in rows[0]:
        return None
    return late_explained_variance(pd.DataFrame(rows))


#: What a collapse warning says (``learned_then_lost``). The run's warnings carry it; the report recounts it per
#: table cell from the learning curves (``bench.paper.analysis.collapsed_seeds``), runs recorded before it included.
COLLAPSED = "training return collapsed"
#: A rise of the training return counts when it exceeds this many standard errors of a tenth-of-run mean.
RISE_STANDARD_ERRORS = 5.0
#: ... and is lost when the run ends within this fraction of the rise above where it started (or below).
LOST_FRACTION = 0.1


def learned_then_lost(returns: pd.Series) -> str | None:
    """A sentence when a run's training return rose and then fell back to where it started, else None.

    Means over windows of a tenth of the updates: the first, the best and the last. A rise counts when it
    exceeds ``RISE_STANDARD_ERRORS`` standard errors of a window's mean (the update-to-update noise,
    ``std(diff) / sqrt(2)``, over the root of the window), and is lost when the last window ends within
    ``LOST_FRACTION`` of the rise above the first (or below it). The training return is the sampled
    policy's: a collapse of the policy and an exploration noise grown out of bounds look alike here, and the
    deterministic final score may show neither. What it finds on two five-seed runs: ``docs/evidence.md``
    (session 15).
    """
    values = returns.to_numpy(dtype=float)
    window = max(1, len(values) // 10)
    if len(values) < 3:
        return None
    means = pd.Series(values).rolling(window).mean().dropna().to_numpy()
    first, best, last = means[0], means.max(), means[-1]
    noise = float(pd.Series(values).diff().std()) / math.sqrt(2) / math.sqrt(window)
    rise = best - first
    if not (rise > RISE_STANDARD_ERRORS * noise and last <= first + LOST_FRACTION * rise):
        return None
    return (f"the training return rose from {first:.3g} to {best:.3g} and fell back to {last:.3g} (means over a tenth "
            f"of the updates): its {COLLAPSED} (the policy, or its sampling noise: its gradient norm, step size and "
            "entropy are where to look)")


def degenerate_run_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """Symptoms of a finite run that did not learn, or learned and lost it, for a mechanical reason, one
    sentence each.

    Recorded in ``run.json`` (``warnings``), the log and the report's appendix: a run
    can finish with numbers and still be degenerate (issue "Your own agent", item 6).
    """
    if not rows:
        return []
    table = pd.DataFrame(rows)
    found = []
    zero_loss = float((table["policy_loss"] == 0).mean())
    if zero_loss > DEGENERATE_FRACTION:
        found.append(f"the policy loss is exactly 0 in {zero_loss:.0%} of updates (no advantage signal: e.g. "
                     "normalised advantages of a single episode per update)")
    zero_grad = float((table["grad_norm"] == 0).mean())
    if zero_grad > DEGENERATE_FRACTION:
        found.append(f"the policy gradient is exactly 0 in {zero_grad:.0%} of updates (saturated or disconnected "
                     "outputs)")
    quarter = table.head(max(1, len(table) // 4))
    if bool((quarter["entropy"].abs() < 1e-3).any()) and bool((table["entropy"] >= 0).all()):
        found.append("the policy's entropy collapsed to ~0 within the first quarter of training (deterministic "
                     "too early: a larger entropy bonus or a smaller step size)")
    for side in ("low", "high"):
        stuck = float((table.get(f"mean_at_{side}", pd.Series([0.0])) > STUCK_AT_BOUND).mean())
        if stuck > DEGENERATE_FRACTION:
            found.append(f"the Gaussian mean sits at its {side} action bound in {stuck:.0%} of updates (its tanh "
                         "passes back almost no gradient there: a smaller step size, or smaller initial outputs)")
    collapse = learned_then_lost(table["return_mean"]) if "return_mean" in table else None
    if collapse is not None:
        found.append(collapse)
    # On a one-step task (every episode one step long) the return is the reward of an action sampled
    # after the observation: no state value explains it, so a critic at or below 0 is no symptom there.
    one_step = "length_mean" in table and bool((table["length_mean"] == 1).all())
    if "explained_variance" in table and len(table) >= MIN_UPDATES_FOR_CRITIC_WARNING and not one_step:
        explained = late_explained_variance(table)
        if explained <= 0:
            # Pooled over the late updates whose targets vary (late_explained_variance): on a solved memory task
            # those are the batches with a miss, whose returns an action sampled at the last step decided.
            found.append(f"the critic explains none of its targets over the last quarter of training "
                         f"(explained variance {explained:.2f}): it is not fitting (its step size or value "
                         "iterations), or its targets vary by chance that no state predicts (the reward of an "
                         "action sampled late in the episode, as when a solved memory task is missed)")
    return found
