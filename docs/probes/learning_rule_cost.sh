#!/usr/bin/env bash
# The learning rule's cost per environment step on CartPole-v1 (docs/performance.md, session 14):
# an older tree's rule, this tree's default critic (critic_memory=actor) and this tree with
# critic_memory=own, alternated, at the full budget (150k steps) and at 30k steps; steps per
# second of run.json (training only, one thread, seed 0), then each setup's ratio to the old rule.
#
#   git worktree add /tmp/old 511af5c && docs/probes/learning_rule_cost.sh /tmp/old [rounds]
set -euo pipefail
old=${1:?usage: $0 OLD_TREE [rounds]}
rounds=${2:-2}
here=$(cd "$(dirname "$0")/../.." && pwd)
py=$here/.venv/bin/python
out=$(mktemp -d)
for round in $(seq "$rounds"); do for steps in 150000 30000; do for agent in mlp gru; do
  for setup in old actor own; do
    tree=$here; extra=()
    [ $setup = old ] && tree=$old
    [ $setup = own ] && extra=(--critic-memory own)
    [ $steps = 30000 ] && extra+=(--eval-episodes 1)
    run=$out/$setup/$agent/$steps/r$round
    (cd "$tree" && OMP_NUM_THREADS=1 PYTHONPATH=$tree $py -m bench run --env CartPole-v1 --agent $agent --seed 0 \
       --steps $steps ${extra[@]+"${extra[@]}"} --quiet --out "$run" > /dev/null) \
      || { echo "failed: $setup $agent $steps round $round (see above)" >&2; exit 1; }
  done; done; done; done
$py - "$out" <<'PY'
import json, pathlib, statistics, sys
root = pathlib.Path(sys.argv[1])
def rates(setup, agent, steps):
    return [json.loads(p.read_text())["steps_per_second"] for p in sorted(root.glob(f"{setup}/{agent}/{steps}/r*/run.json"))]
for steps in (150000, 30000):
    for agent in ("mlp", "gru"):
        old = statistics.mean(rates("old", agent, steps))
        cells = []
        for setup in ("old", "actor", "own"):
            values = rates(setup, agent, steps)
            cells.append(f"{setup} {' / '.join(f'{v:,.0f}' for v in values)} (x{statistics.mean(values) / old:.2f})")
        print(f"{agent:4} {steps:>7,} steps: " + "; ".join(cells))
PY
