"""Figures of the report (seaborn, SVG), drawn from the analysis outputs only.

``python -m bench.paper.figures --analysis DIR --out DIR`` writes, per experiment,
``curves_<experiment>.svg`` (IQM learning curves with 95 % bands),
``aggregate_<experiment>.svg`` (normalised IQM with CIs),
``profile_<experiment>.svg`` (performance profiles) and, where the experiment
has ablation pairs, ``improvement_<experiment>.svg``.

Every variant keeps one style across figures: its own colour from seaborn's
colour-blind-safe "colorblind" palette (10 colours; Okabe & Ito-like) and its own
marker, so variants stay apart in greyscale too; lines are thin and slightly
transparent and bands light, so overlapping curves remain visible.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

# Byte-stable SVGs: no creation date, fixed element ids.
plt.rcParams["svg.hashsalt"] = "rpg-bench"
SVG_METADATA = {"Date": None}


PALETTE = "colorblind"
#: 11 markers against 10 colours: (colour, marker) pairs stay distinct for up to 110 variants
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
LINE_WIDTH = 1.4
LINE_ALPHA = 0.85
BAND_ALPHA = 0.12


@dataclass(frozen=True)
class Style:
    """How one variant is drawn: an RGB colour (0-1) and a matplotlib marker."""

    colour: tuple[float, float, float]
    marker: str


def variant_styles(labels: list[str]) -> dict[str, Style]:
    """label -> Style: the i-th label gets colour ``i mod 10`` and marker ``i mod 11``."""
    colours = sns.color_palette(PALETTE, n_colors=10)
    return {label: Style(tuple(colours[i % len(colours)]), MARKERS[i % len(MARKERS)]) for i, label in enumerate(labels)}


def _line(axis: plt.Axes, x, y, style: Style, label: str, points: int, **kwargs) -> None:
    """A curve in the variant's colour with its marker on about 8 of its ``points``."""
    axis.plot(x, y, color=style.colour, marker=style.marker, markevery=max(1, points // 8), markersize=4.5,
              linewidth=LINE_WIDTH, alpha=LINE_ALPHA, label=label, **kwargs)


def _legend_handles(styles: dict[str, Style]) -> list[plt.Line2D]:
    return [plt.Line2D([], [], color=s.colour, marker=s.marker, linewidth=LINE_WIDTH, label=label) for label, s in styles.items()]


def _save(figure: plt.Figure, path: Path) -> None:
    figure.savefig(path, format="svg", bbox_inches="tight", metadata=SVG_METADATA)
    plt.close(figure)


def learning_curves(curves: pd.DataFrame, labels: list[str], envs: list[str], title: str, path: Path) -> None:
    columns = min(3, len(envs))
    rows = math.ceil(len(envs) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    styles = variant_styles(labels)
    for index, env in enumerate(envs):
        axis = axes[index // columns][index % columns]
        panel = curves[curves["env"] == env]
        for label in labels:
            line = panel[panel["label"] == label]
            if len(line) == 0:
                continue
            _line(axis, line["env_steps"], line["iqm"], styles[label], label, len(line))
            axis.fill_between(line["env_steps"], line["low"], line["high"], color=styles[label].colour, alpha=BAND_ALPHA, linewidth=0)
        axis.set_title(env)
        axis.set_xlabel("environment steps")
        axis.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))  # 150k, not 150000 (overlapping)
        axis.set_ylabel("episode return (IQM)")
    for index in range(len(envs), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.legend(handles=_legend_handles(styles), loc="lower center", ncol=min(4, len(labels)), bbox_to_anchor=(0.5, -0.02 - 0.04 * math.ceil(len(labels) / 4)))
    figure.suptitle(title)
    figure.tight_layout()
    _save(figure, path)


def interval_plot(entries: list[dict], key: str, xlabel: str, title: str, path: Path, reference: float | None = None,
                  label_of=lambda e: e["label"], order: list[str] | None = None) -> None:
    """One row per entry: its 95 % CI as a bar and its estimate as the variant's marker; ``order``
    (the experiment's variants) keeps each variant's style the same as in its other figures."""
    labels = [label_of(e) for e in entries]
    figure, axis = plt.subplots(figsize=(6.5, 0.45 * len(entries) + 1.2))
    styles = variant_styles(order or labels)
    for row, entry in enumerate(entries):
        value, style = (entry[key] if key else entry), styles[labels[row]]
        axis.plot([value["low"], value["high"]], [row, row], color=style.colour, linewidth=6, alpha=0.5, solid_capstyle="butt")
        axis.plot([value["estimate"]], [row], marker=style.marker, color=style.colour, linestyle="none")
    if reference is not None:
        axis.axvline(reference, color="grey", linestyle="--", linewidth=1)
    axis.set_yticks(range(len(entries)), labels)
    axis.invert_yaxis()
    axis.set_xlabel(xlabel)
    axis.set_title(title)
    figure.tight_layout()
    _save(figure, path)


def performance_profiles(profiles: pd.DataFrame, labels: list[str], title: str, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6.5, 4))
    styles = variant_styles(labels)
    for label in labels:
        line = profiles[profiles["label"] == label]
        if len(line) == 0:
            continue
        _line(axis, line["tau"], line["fraction"], styles[label], label, len(line), drawstyle="steps-post")
        axis.fill_between(line["tau"], line["low"], line["high"], color=styles[label].colour, alpha=BAND_ALPHA, step="post", linewidth=0)
    axis.set_xlabel("normalised score threshold τ")
    axis.set_ylabel("fraction of runs with score > τ")
    axis.set_title(title)
    axis.legend(fontsize=8)
    figure.tight_layout()
    _save(figure, path)


def draw_all(analysis_dir: Path, out: Path) -> list[Path]:
    sns.set_theme(style="whitegrid", context="paper")
    analysis = json.loads((analysis_dir / "analysis.json").read_text())
    curves = pd.read_parquet(analysis_dir / "curve_summary.parquet")
    profiles = pd.read_parquet(analysis_dir / "profiles.parquet")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, experiment in analysis["experiments"].items():
        labels, title = experiment["labels"], experiment["title"]
        path = out / f"curves_{name}.svg"
        learning_curves(curves[curves["experiment"] == name], labels, experiment["envs"], f"{title}: learning curves", path)
        written.append(path)
        if experiment["aggregate"]:
            path = out / f"aggregate_{name}.svg"
            interval_plot(experiment["aggregate"], "iqm", "normalised score (IQM, 95 % CI)", f"{title}: aggregate", path,
                          order=labels)
            written.append(path)
            path = out / f"profile_{name}.svg"
            performance_profiles(profiles[profiles["experiment"] == name], labels, f"{title}: performance profiles", path)
            written.append(path)
        if experiment["improvements"]:
            path = out / f"improvement_{name}.svg"
            interval_plot(experiment["improvements"], "", "P(X > Y), 95 % CI", f"{title}: probability of improvement", path,
                          reference=0.5, label_of=lambda e: f"{e['x']}  >  {e['y']}")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.paper.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--analysis", required=True, help="directory written by bench.paper.analysis")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    draw_all(Path(args.analysis), Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
