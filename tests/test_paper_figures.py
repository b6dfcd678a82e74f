"""Figure styles: every variant its own colour and marker, colour-blind safe, stable across figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from bench.paper import figures


def test_ten_variants_get_distinct_colours_and_distinct_markers():
    labels = [f"v{i}" for i in range(10)]
    styles = figures.variant_styles(labels)
    assert len({s.colour for s in styles.values()}) == 10
    assert len({s.marker for s in styles.values()}) == 10
    assert {s.colour for s in styles.values()} <= {tuple(c) for c in sns.color_palette("colorblind", 10)}


def test_many_variants_keep_distinct_colour_marker_pairs_and_a_stable_order():
    labels = [f"v{i}" for i in range(40)]
    styles = figures.variant_styles(labels)
    assert len({(s.colour, s.marker) for s in styles.values()}) == 40
    # A variant's style depends only on its position, so it matches across an experiment's figures.
    assert figures.variant_styles(labels[:8]) == {k: styles[k] for k in labels[:8]}


def test_learning_curves_draw_eight_overlapping_variants(tmp_path):
    labels = [f"variant {i}" for i in range(8)]
    steps = np.linspace(100, 1000, 10)
    rows = [{"env": "CartPole-v1", "label": label, "env_steps": x, "iqm": x / 10, "low": x / 10 - 5, "high": x / 10 + 5}
            for label in labels for x in steps]  # identical curves: only markers and alpha keep them apart
    path = tmp_path / "curves.svg"
    figures.learning_curves(pd.DataFrame(rows), labels, ["CartPole-v1"], "test", path)
    svg = path.read_text()
    assert all(label in svg for label in labels)
