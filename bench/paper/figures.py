"""Figures of the report (seaborn, SVG), drawn from the analysis outputs only.

``python -m bench.paper.figures --analysis DIR --out DIR`` writes, per experiment,
``curves_<experiment>.svg`` (IQM learning curves with 95 % bands),
``aggregate_<experiment>.svg`` (normalised IQM with CIs),
``profile_<experiment>.svg`` (performance profiles) and, where the experiment
has ablation pairs, ``improvement_<experiment>.svg``; per settings sweep (the
``tune`` experiment), ``sensitivity_<experiment>.svg`` (normalised IQM against
the step size, one line per value of the other options, the chosen setting ringed).

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

from bench.pipeline.plan import format_value  # noqa: E402

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


#: how the configuration's chosen setting is marked in a sensitivity panel: a black ring around its point
CHOSEN_MARKER = {"marker": "o", "markersize": 12, "markerfacecolor": "none", "markeredgecolor": "black",
                 "markeredgewidth": 1.3, "linestyle": "none"}
#: horizontal offset between the lines of a sensitivity panel (a fraction of a decade, or of a category)
DODGE = 0.05


def _sweep_positions(values: list) -> tuple[dict, bool]:
    """x value -> position: the value itself on a log axis when every value is a positive number, else
    the category's index. Returns (positions, logarithmic)."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)
    ordered = sorted(set(values)) if numeric else list(dict.fromkeys(values))
    return ({v: (v if numeric else float(i)) for i, v in enumerate(ordered)}, numeric)


def sensitivity(sweep: dict, title: str, path: Path) -> None:
    """One panel per environment of a settings sweep: x = the swept step size (``sweep["x"]``, log scale),
    one line per value of the other options, y = IQM of the normalised final score with its 95 % CI as error
    bars; the configuration's chosen setting ringed in black."""
    rows = sweep["rows"]
    columns = min(3, len(rows))
    grid_rows = math.ceil(len(rows) / columns)
    figure, axes = plt.subplots(grid_rows, columns, figsize=(3.8 * columns, 3.0 * grid_rows), squeeze=False)
    lines = list(dict.fromkeys(cell["line"] for row in rows for cell in row["cells"]))
    styles = variant_styles(lines)
    positions, logarithmic = _sweep_positions([cell["x"] for row in rows for cell in row["cells"]])
    chosen_drawn = False
    for index, row in enumerate(rows):
        axis = axes[index // columns][index % columns]
        for number, line in enumerate(lines):
            cells = sorted((c for c in row["cells"] if c["line"] == line and c["n"] > 0), key=lambda c: positions[c["x"]])
            if not cells:
                continue
            offset = (number - (len(lines) - 1) / 2) * DODGE
            xs = [positions[c["x"]] * 10 ** offset if logarithmic else positions[c["x"]] + offset for c in cells]
            ys = [c["estimate"] for c in cells]
            errors = [[c["estimate"] - c["low"] for c in cells], [c["high"] - c["estimate"] for c in cells]]
            style = styles[line]
            axis.errorbar(xs, ys, yerr=errors, color=style.colour, marker=style.marker, markersize=4.5,
                          linewidth=LINE_WIDTH, alpha=LINE_ALPHA, capsize=3, label=line)
            for x, cell in zip(xs, cells):
                if cell["chosen"]:
                    axis.plot([x], [cell["estimate"]], zorder=5, **CHOSEN_MARKER)
                    chosen_drawn = True
        ticks = sorted(positions.items(), key=lambda item: item[1])
        if logarithmic:
            axis.set_xscale("log")
            axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            low, high = ticks[0][1], ticks[-1][1]
            axis.set_xlim(low / 10 ** (0.25 + DODGE * len(lines)), high * 10 ** (0.25 + DODGE * len(lines)))
        else:
            axis.set_xlim(-0.5, len(ticks) - 0.5)
        axis.set_xticks([position for _, position in ticks], [format_value(value) for value, _ in ticks])
        axis.set_title(row["env"])
        axis.set_xlabel("step size (lr)" if sweep["x"] == "lr" else sweep["x"])
        axis.set_ylabel(f"{row['score']} (IQM)")
    for index in range(len(rows), grid_rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    handles = _legend_handles(styles)
    if chosen_drawn:
        handles.append(plt.Line2D([], [], label="chosen (defaults + env_settings)", **CHOSEN_MARKER))
    figure.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)),
                  bbox_to_anchor=(0.5, -0.02 - 0.05 * math.ceil(len(handles) / 4)))
    figure.suptitle(title)
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
    for name, sweep in analysis.get("sweeps", {}).items():
        path = out / f"sensitivity_{name}.svg"
        sensitivity(sweep, f"{sweep['title']}: IQM by setting (95 % CI)", path)
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
