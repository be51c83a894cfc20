#!/usr/bin/env bash
# Test dependency: Debian's Chromium for the Dagster UI browser test (hedging_pipeline_tests/defs/test_browser.py).
# Installed with apt-get only when /usr/bin/chromium is missing; Playwright drives it through executable_path,
# so no `playwright install` download is needed. Needs root or passwordless sudo for apt-get.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: apt-get not found; install Chromium at /usr/bin/chromium by hand (browser test is skipped)" >&2
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "test-deps: not root and no passwordless sudo; cannot install chromium (browser test is skipped)" >&2
    exit 0
  fi
fi
echo "test-deps: installing Debian chromium (apt-get) for the browser test"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
/usr/bin/chromium --version
