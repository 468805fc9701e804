#!/usr/bin/env bash
# The main job on the embedded local stack, no AWS account needed:
# start the stack, deploy the catalog, seed it, look up testservice2 1.0, stop the stack.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
# A private state folder, so the demo never touches a local stack you started yourself.
export SDCLI_STATE_DIR="${SDCLI_STATE_DIR:-$PWD/.sdcli/demo}"
sdcli local start --detach --port 0
trap 'sdcli local stop' EXIT
sdcli --local deploy
sdcli --local seed
sdcli --local lookup testservice2 1.0
