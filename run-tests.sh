#!/usr/bin/env bash
# The test command of the README: set up, then run every check CI runs.
set -euo pipefail
cd "$(dirname "$0")"
WITH_BROWSER=${WITH_BROWSER:-1} ./setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "=== workflow lint"
snakefmt --check Snakefile workflow/rules/
snakemake --lint --config profile=quick

echo "=== unit tests, bad input, learning checks"
python -m pytest -q -m "not e2e"

echo "=== end to end: quick profile + report in headless Chromium, add a variant, faults, determinism"
python -m pytest -q -m e2e

echo "=== real SLURM cluster on loopback (snakemake-executor-plugin-slurm)"
if [ "$(id -u)" = 0 ]; then
    bash .ci/slurm-check.sh
else
    echo "SLURM check skipped: it starts slurmctld/slurmd/munge and needs root (CI runs it)"
fi
