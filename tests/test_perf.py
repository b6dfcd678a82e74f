"""``python -m bench perf`` prints every section, with ratios that follow from its own figures."""

from __future__ import annotations

import re

from bench.cli import main


def _numbers(line: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(r"-?[\d,]+\.?\d*", line)]


def test_perf_prints_steps_per_second_seed_batches_and_ratios(capsys):
    assert main(["perf", "--quick", "--agents", "mlp", "--seed-batches", "2", "--solve-seeds", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()

    steps_header = lines.index(next(line for line in lines if line.startswith("variant") and "gym steps/s" in line))
    gym, versus_mlp, *_, torch_rate, torch_ratio = _numbers(lines[steps_header + 1].removeprefix("mlp"))
    assert gym > 0 and versus_mlp == 1.0 and torch_rate > 0
    assert abs(torch_ratio - torch_rate / gym) < 0.01

    batch_row = next(line for line in lines if re.match(r"mlp\s+2\s", line))
    size, aggregate, alone, ratio, peak_mb = _numbers(batch_row.removeprefix("mlp"))
    assert size == 2 and aggregate > 0 and alone > 0 and peak_mb > 0
    assert abs(ratio - aggregate / alone) < 0.01
    assert any(re.search(r"gru_cell / gru = \d+\.\d+x", line) for line in lines)
