#!/usr/bin/env bash
# Test dependency: Debian's Chromium for the Dagster UI browser test (hedging_pipeline_tests/defs/test_browser.py).
# Installed with apt-get only when /usr/bin/chromium is missing; Playwright drives it through executable_path,
# so no `playwright install` download is needed. Needs root or passwordless sudo for apt-get.
set -euo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
apt_install browser chromium fonts-liberation || exit 0
/usr/bin/chromium --version
