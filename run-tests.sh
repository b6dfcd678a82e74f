#!/usr/bin/env bash
# The test command of the README: set up, then run every check CI runs.
set -euo pipefail
cd "$(dirname "$0")"
WITH_BROWSER=${WITH_BROWSER:-1} ./setup.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "=== workflow lint"
snakefmt --check Snakefile workflow/rules/
snakemake --lint --config profile=quick

echo "=== unit tests and learning checks"
python -m pytest -q -m "not e2e"

echo "=== quick profile end to end, report in headless Chromium"
python -m pytest -q -m e2e
