#!/usr/bin/env bash
# Train the five edge variants on ../shared/data (or $EDGEFER_DATA), resuming any run that was cut
# off. Usage: scripts/train-all.sh [RUNS_DIR]   (env: EPOCHS_FUSION, EPOCHS_VOICE, FUSIONS, EDGEFER)
set -euo pipefail
runs=${1:-runs/shipped}
edgefer=${EDGEFER:-.venv/bin/edgefer}
epochs_fusion=${EPOCHS_FUSION:-8}
epochs_voice=${EPOCHS_VOICE:-30}
mkdir -p "$runs"
for fusion in ${FUSIONS:-middle face voice early late}; do
  out="$runs/$fusion"
  epochs=$epochs_fusion
  [ "$fusion" = voice ] && epochs=$epochs_voice
  if [ -f "$out/metrics.json" ] && [ "$(python3 -c "import json;print(json.load(open('$out/state.json'))['epoch'])")" -ge "$epochs" ]; then
    echo "== $fusion: done ($out)"; continue
  fi
  resume=()
  [ -f "$out/state.json" ] && resume=(--resume)
  echo "== $fusion: training to epoch $epochs in $out ${resume[*]}"
  # shellcheck disable=SC2086  # EDGEFER may be a command with arguments
  $edgefer train --fusion "$fusion" --preset edge --epochs "$epochs" --seed 0 \
    --output "$out" "${resume[@]}"
done
