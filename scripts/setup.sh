#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the project. Idempotent: a second call only checks.
#   scripts/setup.sh         runtime only
#   scripts/setup.sh dev     runtime + test tools
# torch is installed FIRST and pinned to 2.13.0 so that sentence-transformers does not pull a CUDA build
# (several GB). On machines whose pip would pick a CUDA wheel, set
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
# before running this script to get the CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."

extra="${1:-}"
python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
"$python_bin" - <<'PY' || { echo "error: Python 3.11 or 3.12 is required (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 12) else 1)
PY

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$python_bin" --version)"
  "$python_bin" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)

if ! .venv/bin/python -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  echo "setup: installing torch==2.13.0 (CPU build) first"
  "${pip[@]}" install "torch==2.13.0"
fi

stamp=".venv/.hedging_pipeline_installed${extra:+_$extra}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  target="."
  [ "$extra" = "dev" ] && target=".[dev,postgres]"
  echo "setup: installing hedging_pipeline ($target)"
  "${pip[@]}" install -e "$target"
  touch "$stamp"
fi
echo "setup: ok ($(.venv/bin/python -c 'import dagster, torch; print("dagster", dagster.__version__, "torch", torch.__version__)'))"
