#!/usr/bin/env bash
# README command 2: set everything up (test tools included) and run the whole test suite.
# Extra arguments go to pytest (e.g. -m "not browser" for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
exec .venv/bin/python -m pytest "$@"
