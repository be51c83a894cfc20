#!/usr/bin/env bash
# README command 1: set everything up from a clean clone and materialise the whole asset graph on the default
# data (../shared/data when present, else the generated demo universe). Extra arguments go to
# `hedging-pipeline run` (e.g. --start 2020-01-01).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hedging-pipeline run "$@"
