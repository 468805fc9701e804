#!/usr/bin/env bash
# The test suite: unit tests, every command against moto, and the end-to-end run over HTTP.
# Extra arguments go to pytest (e.g. ./scripts/test.sh -m slow for the long runs).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh test
ruff check .
python -m pytest "$@"
