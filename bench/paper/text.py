"""How numbers are written in the report: significant digits, intervals, verdicts in words."""

from __future__ import annotations

import math

from bench.paper import stats

#: family-wise error rate of every family of comparisons (Holm-Bonferroni)
ALPHA = 0.05


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (no exponent for everyday sizes); ``n/a`` for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(value))))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def interval_text(interval: stats.Interval | stats.Test) -> str:
    """``estimate [low, high]``."""
    return f"{fmt(interval.estimate)} [{fmt(interval.low)}, {fmt(interval.high)}]"


def p_text(p_value: float) -> str:
    """A p-value to two significant digits, ``< 0.001`` below that."""
    return "< 0.001" if p_value < 0.001 else fmt(p_value, 2)


def p_statement(test: stats.Test, adjusted: bool = True) -> str:
    """``Holm-adjusted p = 0.031`` (or ``p = ...``, unadjusted), ``... p < 0.001`` below that."""
    name, value = ("Holm-adjusted p", test.adjusted_p) if adjusted else ("p", test.p_value)
    return f"{name} {'<' if value < 0.001 else '='} {p_text(value).removeprefix('< ')}"


def poi_verdict(test: stats.Test) -> str:
    """``better`` / ``worse`` when the Holm-adjusted p of P(X > Y) = 0.5 is below ALPHA, else ``no clear difference``."""
    if test.adjusted_p < ALPHA:
        return "better" if test.estimate > 0.5 else "worse"
    return "no clear difference"


def poi_sentence(verdict: str, test: stats.Test, family: bool = True) -> str:
    """The verdict in words with its numbers: ``no clear difference, P(X > Y) = 0.50 [0.25, 0.75], Holm-adjusted p = 1``
    (``family=False``: a single test, ``p = ...`` unadjusted)."""
    p = p_statement(test) if family else f"{p_statement(test, adjusted=False)} (a single test)"
    return f"{verdict}, P(X > Y) = {interval_text(test)}, {p}"
