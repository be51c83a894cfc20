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
# The tests write many small files that SQLite and DuckDB flush to disk on every commit (a Dagster instance and a
# warehouse per CLI run): on a RAM disk a CLI run takes about a fifth less wall time on a 2-core VM (benchmarks/
# RESULTS.md, "Test suite time"). Used when the caller did not set TMPDIR and /dev/shm is a tmpfs with 8 GiB free
# (a whole run needs about 1.5 GB); removed when pytest exits, so failed tests' folders go with it.
shm_kib=$(df -P -k /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -z "${TMPDIR:-}" ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] \
   && [ "${shm_kib:-0}" -ge $((8 * 1024 * 1024)) ]; then
  TMPDIR="$(mktemp -d /dev/shm/hedging-tests.XXXXXX)"
  chmod 1777 "$TMPDIR"  # as /tmp: the PostgreSQL test's server runs as the postgres user when we are root
  export TMPDIR
  trap 'rm -rf "$TMPDIR"' EXIT
  echo "test: temporary files in $TMPDIR (RAM disk; set TMPDIR to choose another place)"
fi
# One pytest process per core (pytest-xdist), at most 4: the suite is mostly single-threaded work, and on CI's 2
# cores a second process halves the wall time. Each test file runs in one process (its module fixtures are built
# once); session fixtures are built once and shared (hedging_pipeline_tests/session_share.py).
# HEDGING_TEST_WORKERS=0 runs everything in this process; a later -n in the arguments overrides.
workers="${HEDGING_TEST_WORKERS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}"
echo "test: $workers pytest worker processes (HEDGING_TEST_WORKERS to choose)"
status=0
.venv/bin/python -m pytest -n "$workers" --dist loadfile "$@" || status=$?
exit "$status"
