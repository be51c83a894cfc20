#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl) for the instance-storage test (pytest -m postgres), which starts
# its own throw-away cluster. Installs the Debian package only when no server is present; never fails the
# test run: without a server the test is skipped with a loud reason.
set -uo pipefail

have_server() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_server; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps/postgres: no PostgreSQL server and no apt-get; the postgres test will be skipped" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "test-deps/postgres: not root and no password-less sudo; install 'postgresql' to run the postgres test" >&2
    exit 0
  fi
fi
echo "test-deps/postgres: installing the Debian package postgresql" >&2
$SUDO apt-get update -qq \
  && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
  || echo "test-deps/postgres: apt-get install postgresql failed; the postgres test will be skipped" >&2
# the package starts a cluster of its own on port 5432; the test does not need it
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in /etc/postgresql/*/main; do
    [ -d "$cluster" ] || continue
    version=$(basename "$(dirname "$cluster")")
    $SUDO pg_ctlcluster "$version" main stop 2>/dev/null || true
  done
fi
exit 0
