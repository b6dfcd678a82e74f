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


def _sweep(envs: list[str]) -> dict:
    """A hand-made sensitivity table (as ``analysis.sensitivity_table`` writes it): lr x num_envs."""
    rows = []
    for env in envs:
        cells = []
        for lr in (0.003, 0.01):
            for num_envs in (16, 64):
                estimate = lr * 50 + num_envs / 100
                cells.append({"label": f"mlp [lr={lr:g}, num_envs={num_envs}]", "x": lr, "line": f"num_envs={num_envs}",
                              "n": 3, "estimate": estimate, "low": estimate - 0.1, "high": estimate + 0.1,
                              "chosen": (lr, num_envs) == (0.003, 64)})
        rows.append({"env": env, "score": "normalised score", "cells": cells})
    return {"title": "Settings sweep", "x": "lr", "options": ["lr", "num_envs"], "rows": rows}


def test_the_sensitivity_figure_has_one_panel_per_environment(tmp_path):
    envs = ["CartPole-v1", "ContinuousCartPole", "DigitMatch-10", "DigitMatch-100", "GaussianTarget"]
    path = tmp_path / "sensitivity_tune.svg"
    figures.sensitivity(_sweep(envs), "Settings sweep", path)
    svg = path.read_text()
    assert svg.count('<g id="axes_') == len(envs)  # the sixth cell of the 2 x 3 grid is hidden
    assert all(env in svg for env in envs)
    assert "num_envs=16" in svg and "num_envs=64" in svg and "chosen" in svg and "step size (lr)" in svg
    one = tmp_path / "one.svg"
    figures.sensitivity(_sweep(["CartPole-v1"]), "Settings sweep", one)
    assert one.read_text().count('<g id="axes_') == 1
