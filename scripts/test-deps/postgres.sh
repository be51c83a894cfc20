#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl) for the instance-storage test (pytest -m postgres), which starts
# its own throw-away cluster. Installs the Debian package only when no server is present; never fails the
# test run: without a server the test is skipped with a loud reason.
set -uo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

have_server() {
  command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_server; then
  exit 0
fi
apt_install postgres postgresql || exit 0
# the package starts a cluster of its own on port 5432; the test does not need it
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in /etc/postgresql/*/main; do
    [ -d "$cluster" ] || continue
    version=$(basename "$(dirname "$cluster")")
    "${APT_SUDO[@]}" pg_ctlcluster "$version" main stop 2>/dev/null || true
  done
fi
exit 0
