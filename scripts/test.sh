#!/usr/bin/env bash
# README command 2: set everything up (test tools included) and run the whole test suite.
# Extra arguments go to pytest (e.g. -m "not browser" for a quick run).
# System packages the tests need (Chromium for the UI test, PostgreSQL for the instance-storage test, Redis as
# the Celery broker, which redis.sh also starts) are installed by scripts/test-deps/*.sh when missing; each
# script skips what is already present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
for dep in scripts/test-deps/*.sh; do
  [ -e "$dep" ] || continue
  bash "$dep"
done
exec .venv/bin/python -m pytest "$@"
