"""Aggregate statistics over seeds, after Agarwal et al. (2021), "Deep RL at the edge of the statistical precipice".

Small pure functions over one array layout, as in rliable: ``scores`` is
``[num_runs, num_tasks]``: runs are seeds (never episodes), tasks are
environments. Confidence intervals come from a stratified bootstrap (seeds
resampled with replacement within each task) driven by an explicit
``numpy.random.Generator``: the same seed gives the same interval. rliable itself
draws from the global NumPy RNG whatever ``random_state`` it is given; a test
cross-checks these functions against it with the global RNG seeded. The p-values of the tests of
two variants come from stratified permutation tests (:func:`permutation_test`), not from the
bootstrap, whose own p-values are optimistic at a few seeds.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

Statistic = Callable[[np.ndarray], float]


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of all entries: the mean of the middle 50 % (25 % trimmed each side)."""
    return float(scipy_stats.trim_mean(np.asarray(scores, dtype=float).reshape(-1), proportiontocut=0.25))


def _per_task_mean(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    return scores.mean(axis=0) if scores.ndim == 2 else scores


def median(scores: np.ndarray) -> float:
    """Median over tasks of each task's mean score (rliable's definition); over runs for one task."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1 or scores.shape[1] == 1:
        return float(np.median(scores))
    return float(np.median(_per_task_mean(scores)))


def mean(scores: np.ndarray) -> float:
    """Mean over tasks of each task's mean score (equal weight per task)."""
    return float(np.mean(_per_task_mean(scores)))


STATISTICS: dict[str, Statistic] = {"iqm": iqm, "median": median, "mean": mean}


@dataclass(frozen=True)
class Interval:
    """A point estimate with a 95 % bootstrap confidence interval."""

    estimate: float
    low: float
    high: float

    def overlaps(self, other: "Interval") -> bool:
        return self.low <= other.high and other.low <= self.high

    def as_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def stratified_resample_indices(num_runs: int, num_tasks: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``[replicates, num_runs, num_tasks]`` run indices, drawn independently per task."""
    return rng.integers(0, num_runs, size=(replicates, num_runs, num_tasks))


def bootstrap_interval(
    scores: np.ndarray, statistic: Statistic, replicates: int, rng: np.random.Generator, confidence: float = 0.95
) -> Interval:
    """Percentile stratified-bootstrap CI of ``statistic`` over ``scores: [num_runs, num_tasks]``."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    num_runs, num_tasks = scores.shape
    estimate = statistic(scores)
    if num_runs < 2:
        return Interval(estimate, estimate, estimate)
    indices = stratified_resample_indices(num_runs, num_tasks, replicates, rng)
    resampled = np.take_along_axis(scores[None].repeat(replicates, 0), indices, axis=1)
    values = np.array([statistic(sample) for sample in resampled])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) averaged over tasks: the Mann-Whitney U statistic per task, ties count half.

    Args:
        x, y: ``[num_runs_x, num_tasks]`` and ``[num_runs_y, num_tasks]``.
    """
    x, y = np.atleast_2d(np.asarray(x, float).T).T, np.atleast_2d(np.asarray(y, float).T).T
    per_task = []
    for task in range(x.shape[1]):
        greater = (x[:, task][:, None] > y[:, task][None, :]).mean()
        ties = (x[:, task][:, None] == y[:, task][None, :]).mean()
        per_task.append(greater + 0.5 * ties)
    return float(np.mean(per_task))


def probability_of_improvement_interval(
    x: np.ndarray, y: np.ndarray, replicates: int, rng: np.random.Generator
) -> Interval:
    """P(X > Y) with a CI from resampling the runs of both, stratified by task."""
    x, y = np.atleast_2d(np.asarray(x, float).T).T, np.atleast_2d(np.asarray(y, float).T).T
    estimate = probability_of_improvement(x, y)
    if min(x.shape[0], y.shape[0]) < 2:
        return Interval(estimate, estimate, estimate)
    ix = stratified_resample_indices(x.shape[0], x.shape[1], replicates, rng)
    iy = stratified_resample_indices(y.shape[0], y.shape[1], replicates, rng)
    values = np.array([
        probability_of_improvement(np.take_along_axis(x, ix[r], 0), np.take_along_axis(y, iy[r], 0))
        for r in range(replicates)
    ])
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(estimate, float(low), float(high))


def performance_profile(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fraction of (run, task) scores strictly above each threshold: ``[len(thresholds)]``."""
    flat = np.asarray(scores, float).reshape(-1)
    return np.array([(flat > tau).mean() for tau in thresholds])


def performance_profile_band(
    scores: np.ndarray, thresholds: np.ndarray, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Profile with a pointwise 95 % stratified-bootstrap band: (estimate, low, high)."""
    scores = np.asarray(scores, float)
    if scores.ndim == 1:
        scores = scores[:, None]
    estimate = performance_profile(scores, thresholds)
    if scores.shape[0] < 2:
        return estimate, estimate, estimate
    indices = stratified_resample_indices(*scores.shape, replicates, rng)
    resampled = np.take_along_axis(scores[None].repeat(replicates, 0), indices, axis=1)
    profiles = (resampled.reshape(replicates, -1)[:, :, None] > thresholds[None, None, :]).mean(1)
    low, high = np.percentile(profiles, [2.5, 97.5], axis=0)
    return estimate, low, high


def first_crossing(steps: np.ndarray, values: np.ndarray, threshold: float) -> float:
    """The first ``steps[i]`` with ``values[i] >= threshold``; NaN if never reached."""
    hits = np.nonzero(np.asarray(values) >= threshold)[0]
    return float(np.asarray(steps)[hits[0]]) if len(hits) else float("nan")


@dataclass(frozen=True)
class Test:
    """A point estimate, its 95 % percentile-bootstrap CI and a two-sided p-value of no difference.

    ``p_value`` comes from a stratified permutation test (:func:`permutation_test`): the
    bootstrap's own p-value is optimistic at a few seeds (at five against five on one task
    its floor is 2 / (B + 1), the exact test's 2 / 252). ``adjusted_p`` is set by :func:`holm`
    over a family of tests.
    """

    estimate: float
    low: float
    high: float
    p_value: float
    adjusted_p: float = math.nan

    @property
    def interval(self) -> Interval:
        return Interval(self.estimate, self.low, self.high)


def _percentile_interval(replicates: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile interval of bootstrap ``replicates``."""
    low, high = np.percentile(replicates, [2.5, 97.5])
    return float(low), float(high)


def _resample(scores: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``scores[indices[r, i, t], t]`` for every replicate: ``[replicates, num_runs, num_tasks]``."""
    return np.take_along_axis(scores[None].repeat(len(indices), 0), indices, axis=1)


def bootstrap_difference(
    x: np.ndarray, y: np.ndarray, statistic: Statistic, replicates: int, rng: np.random.Generator
) -> Test:
    """``statistic(x) - statistic(y)`` with a stratified-bootstrap CI and a stratified permutation p-value
    (null: the runs of X and Y are exchangeable within each task).

    Args:
        x, y: ``[num_runs_x, num_tasks]`` and ``[num_runs_y, num_tasks]``; the runs of
            each are resampled independently within each task (unpaired seeds).
    """
    x, y = np.atleast_2d(np.asarray(x, float).T).T, np.atleast_2d(np.asarray(y, float).T).T
    estimate = statistic(x) - statistic(y)
    if min(x.shape[0], y.shape[0]) < 2:
        return Test(estimate, estimate, estimate, 1.0)
    bx = _resample(x, stratified_resample_indices(*x.shape, replicates, rng))
    by = _resample(y, stratified_resample_indices(*y.shape, replicates, rng))
    low, high = _percentile_interval(np.array([statistic(a) - statistic(b) for a, b in zip(bx, by)]))
    return Test(estimate, low, high, permutation_test(x, y, _difference_batch(statistic), estimate, rng))


def probability_of_improvement_test(x: np.ndarray, y: np.ndarray, replicates: int, rng: np.random.Generator) -> Test:
    """P(X > Y) with its 95 % stratified-bootstrap CI and a stratified permutation p-value of no difference
    (on one task, the exact Mann-Whitney test).

    Args:
        x, y: ``[num_runs_x, num_tasks]`` and ``[num_runs_y, num_tasks]``.
    """
    x, y = np.atleast_2d(np.asarray(x, float).T).T, np.atleast_2d(np.asarray(y, float).T).T
    estimate = probability_of_improvement(x, y)
    if min(x.shape[0], y.shape[0]) < 2:
        return Test(estimate, estimate, estimate, 1.0)
    ix = stratified_resample_indices(*x.shape, replicates, rng)
    iy = stratified_resample_indices(*y.shape, replicates, rng)
    values = np.array([
        probability_of_improvement(np.take_along_axis(x, ix[r], 0), np.take_along_axis(y, iy[r], 0))
        for r in range(replicates)
    ])
    low, high = _percentile_interval(values)
    return Test(estimate, low, high, permutation_test(x, y, _poi_batch, estimate, rng))


#: A permutation test enumerates every relabelling when there are at most this many, else draws this many.
PERMUTATIONS = 5000

BatchStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _poi_batch(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """:func:`probability_of_improvement` of each of L relabellings: ``xs: [L, n, T]``, ``ys: [L, m, T]`` -> ``[L]``."""
    greater = (xs[:, :, None, :] > ys[:, None, :, :]).mean(axis=(1, 2))
    ties = (xs[:, :, None, :] == ys[:, None, :, :]).mean(axis=(1, 2))
    return (greater + 0.5 * ties).mean(axis=-1)


def _iqm_batch(scores: np.ndarray) -> np.ndarray:
    """:func:`iqm` of each of L arrays at once, ``[L, ...]`` -> ``[L]`` (scipy's ``trim_mean`` cuts
    ``int(0.25 * size)`` entries from each end of the sorted values, as here)."""
    flat = np.sort(scores.reshape(len(scores), -1), axis=1)
    cut = int(0.25 * flat.shape[1])
    return flat[:, cut:flat.shape[1] - cut].mean(axis=1)


def _difference_batch(statistic: Statistic) -> BatchStatistic:
    """``statistic(x) - statistic(y)`` of each of L relabellings, the IQM vectorised."""
    if statistic is iqm:
        return lambda xs, ys: _iqm_batch(xs) - _iqm_batch(ys)
    return lambda xs, ys: np.array([statistic(a) - statistic(b) for a, b in zip(xs, ys)])


def _relabellings(n: int, m: int, tasks: int, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """``[L, tasks, n + m]`` orders of each task's pooled runs (the first ``n`` are X's) and whether they are
    every relabelling (exact) or ``limit`` drawn at random."""
    if math.comb(n + m, n) ** tasks <= limit:  # counted before any is listed: C(30, 15) splits would not fit
        combos = itertools.combinations(range(n + m), n)
        orders = [[list(c) + [i for i in range(n + m) if i not in c] for c in combos]] * tasks
        return np.array([list(choice) for choice in itertools.product(*orders)]), True
    return np.argsort(rng.random((limit, tasks, n + m)), axis=-1), False


def permutation_test(x: np.ndarray, y: np.ndarray, batch: BatchStatistic, observed: float,
                     rng: np.random.Generator, limit: int = PERMUTATIONS) -> float:
    """Two-sided p-value of a stratified permutation test.

    Under the null hypothesis the runs of X and Y are exchangeable within each task, so
    every split of a task's pooled runs into n for X and m for Y is as likely. The p-value is
    twice the smaller share of splits whose statistic is at least, or at most, the observed
    one (``scipy.stats.permutation_test``'s two-sided rule): exact when every split is
    enumerated (at most ``limit``; for P(X > Y) on one task without ties this is the exact
    Mann-Whitney test, ``scipy.stats.mannwhitneyu``), else from ``limit`` random splits with
    ``(k + 1) / (limit + 1)`` per side (Phipson & Smyth 2010), itself a valid p-value (never 0).
    What it tests is that X and Y have the same distribution on every task, not only the same
    statistic: with unequal seed counts a difference in spread alone can reject.

    Args:
        x, y: ``[n, tasks]`` and ``[m, tasks]`` scores; ``batch`` the statistic of ``[L, n, tasks]``
            and ``[L, m, tasks]`` relabellings, ``[L]``; ``observed`` its value on ``x, y``.
    """
    if not (np.isfinite(x).all() and np.isfinite(y).all() and math.isfinite(observed)):
        return 1.0  # a failed run's NaN supports no claim
    n, m, tasks = x.shape[0], y.shape[0], x.shape[1]
    orders, exact = _relabellings(n, m, tasks, limit, rng)
    pooled = np.concatenate([x, y], axis=0).T  # [tasks, n + m]
    shuffled = np.take_along_axis(pooled[None], orders, axis=-1)  # [L, tasks, n + m]
    values = batch(shuffled[:, :, :n].transpose(0, 2, 1), shuffled[:, :, n:].transpose(0, 2, 1))
    # A relative tolerance: the same split summed in another order must count as reaching the observed value.
    tolerance = 1e-9 * max(1.0, abs(observed), float(np.abs(pooled).max()))
    above, below = int((values >= observed - tolerance).sum()), int((values <= observed + tolerance).sum())
    if exact:
        return float(min(1.0, 2 * min(above, below) / len(values)))
    return float(min(1.0, 2 * (min(above, below) + 1) / (len(values) + 1)))


@functools.lru_cache(maxsize=256)
def smallest_p(n: int, m: int, tasks: int, statistic: Statistic | None = None, limit: int = PERMUTATIONS) -> float:
    """The smallest p-value :func:`permutation_test` gives for ``n`` runs against ``m`` on ``tasks`` tasks: its
    p where every run of X is above every run of Y, for P(X > Y) (``statistic`` None) or a difference of
    ``statistic`` (an IQM, which ignores the runs it trims, reaches its extreme on several splits); where the
    splits are drawn, the smallest ``(k + 1) / (B + 1)`` per side can give, doubled."""
    if math.comb(n + m, n) ** tasks > limit:
        return 2 / (limit + 1)
    x = np.tile(np.arange(m, n + m, dtype=float)[:, None], (1, tasks))
    y = np.tile(np.arange(m, dtype=float)[:, None], (1, tasks))
    if statistic is None:
        return permutation_test(x, y, _poi_batch, probability_of_improvement(x, y), np.random.default_rng(0), limit)
    return permutation_test(x, y, _difference_batch(statistic), statistic(x) - statistic(y), np.random.default_rng(0),
                            limit)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (Holm 1979), in the input order.

    The i-th smallest of m p-values is multiplied by (m - i), i = 0..m-1, then made
    monotone (running maximum) and capped at 1: rejecting where the adjusted p < alpha
    controls the family-wise error rate at alpha.
    """
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return [float(a) for a in adjusted]


def with_holm(tests: list[Test]) -> list[Test]:
    """The same tests with ``adjusted_p`` set by Holm over the whole list (one family)."""
    adjusted = holm([t.p_value for t in tests])
    return [Test(t.estimate, t.low, t.high, t.p_value, a) for t, a in zip(tests, adjusted)]


def censored_median(times: np.ndarray) -> float:
    """Median time-to-event with unsolved runs (NaN) right-censored at +inf.

    Defined only when more than half of the runs reached the event: then the
    median of the sample with censored runs set to +inf is finite and equals the
    Kaplan-Meier median when every run is censored at the same budget. NaN otherwise.
    """
    values = np.asarray(times, float)
    if len(values) == 0 or (~np.isnan(values)).sum() * 2 <= len(values):
        return math.nan
    return float(np.median(np.where(np.isnan(values), np.inf, values)))
