"""Figures of the report (seaborn, SVG), drawn from the analysis outputs only.

``python -m bench.paper.figures --analysis DIR --out DIR`` writes, per experiment,
``curves_<experiment>.svg`` (IQM learning curves with 95 % bands),
``aggregate_<experiment>.svg`` (normalised IQM with CIs),
``profile_<experiment>.svg`` (performance profiles) and, where the experiment
has ablation pairs, ``improvement_<experiment>.svg``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

# Byte-stable SVGs: no creation date, fixed element ids.
plt.rcParams["svg.hashsalt"] = "rpg-bench"
SVG_METADATA = {"Date": None}


def _palette(labels: list[str]) -> dict[str, tuple]:
    return dict(zip(labels, sns.color_palette("colorblind", n_colors=max(len(labels), 1))))


def _save(figure: plt.Figure, path: Path) -> None:
    figure.savefig(path, format="svg", bbox_inches="tight", metadata=SVG_METADATA)
    plt.close(figure)


def learning_curves(curves: pd.DataFrame, labels: list[str], envs: list[str], title: str, path: Path) -> None:
    columns = min(3, len(envs))
    rows = math.ceil(len(envs) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    colours = _palette(labels)
    for index, env in enumerate(envs):
        axis = axes[index // columns][index % columns]
        panel = curves[curves["env"] == env]
        for label in labels:
            line = panel[panel["label"] == label]
            if len(line) == 0:
                continue
            sns.lineplot(data=line, x="env_steps", y="iqm", ax=axis, color=colours[label], label=label, legend=False)
            axis.fill_between(line["env_steps"], line["low"], line["high"], color=colours[label], alpha=0.2, linewidth=0)
        axis.set_title(env)
        axis.set_xlabel("environment steps")
        axis.set_ylabel("episode return (IQM)")
    for index in range(len(envs), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    handles = [plt.Line2D([], [], color=colours[label], label=label) for label in labels]
    figure.legend(handles=handles, loc="lower center", ncol=min(4, len(labels)), bbox_to_anchor=(0.5, -0.02 - 0.04 * math.ceil(len(labels) / 4)))
    figure.suptitle(title)
    figure.tight_layout()
    _save(figure, path)


def interval_plot(entries: list[dict], key: str, xlabel: str, title: str, path: Path, reference: float | None = None,
                  label_of=lambda e: e["label"]) -> None:
    labels = [label_of(e) for e in entries]
    figure, axis = plt.subplots(figsize=(6.5, 0.45 * len(entries) + 1.2))
    colours = sns.color_palette("colorblind", n_colors=max(len(entries), 1))
    for row, entry in enumerate(entries):
        value = entry[key] if key else entry
        axis.plot([value["low"], value["high"]], [row, row], color=colours[row], linewidth=6, alpha=0.5, solid_capstyle="butt")
        axis.plot([value["estimate"]], [row], "o", color=colours[row])
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
    colours = _palette(labels)
    for label in labels:
        line = profiles[profiles["label"] == label]
        if len(line) == 0:
            continue
        sns.lineplot(data=line, x="tau", y="fraction", ax=axis, color=colours[label], label=label, drawstyle="steps-post")
        axis.fill_between(line["tau"], line["low"], line["high"], color=colours[label], alpha=0.15, step="post", linewidth=0)
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
            interval_plot(experiment["aggregate"], "iqm", "normalised score (IQM, 95 % CI)", f"{title}: aggregate", path)
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
