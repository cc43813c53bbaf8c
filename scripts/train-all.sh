#!/usr/bin/env bash
# Train the five shipped edge variants on ../shared/data (or $EDGEFER_DATA), resuming any run that
# was cut off. Usage: scripts/train-all.sh [RUNS_DIR]   (env: FUSIONS, EDGEFER)
#
# The recipe (why, in benchmarks/results/accuracy.md):
#   face, voice   from scratch; face at lr 1e-3 with a cosine decay (at the paper's 1e-4 the edge
#                 face branch stays near the majority class for the epochs a 2-core CPU affords)
#   middle, late  start from the trained face and voice runs (--init-from), fine-tuned at 1e-4 with
#                 40 % of training voices drawn from a random class (--voice-mismatch), so the fusion
#                 learns how far an unseen speaker's voice can be trusted
#   early         from scratch (its first convolution sees both images stacked; nothing to reuse)
set -euo pipefail
runs=${1:-runs/shipped}
edgefer=${EDGEFER:-.venv/bin/edgefer}
mkdir -p "$runs"

recipe() {
  case "$1" in
    face)   echo "--epochs 14 --learning-rate 1e-3 --lr-schedule cosine" ;;
    voice)  echo "--epochs 30 --learning-rate 1e-4" ;;
    middle) echo "--epochs 5 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    late)   echo "--epochs 3 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    early)  echo "--epochs 10 --learning-rate 1e-3 --lr-schedule cosine --voice-mismatch 0.4" ;;
  esac
}

for fusion in ${FUSIONS:-face voice middle late early}; do
  out="$runs/$fusion"
  args=$(recipe "$fusion")
  epochs=$(echo "$args" | awk '{print $2}')
  if [ -f "$out/metrics.json" ] && [ "$(python3 -c "import json;print(json.load(open('$out/state.json'))['epoch'])")" -ge "$epochs" ]; then
    echo "== $fusion: done ($out)"; continue
  fi
  resume=()
  [ -f "$out/state.json" ] && resume=(--resume)
  echo "== $fusion: training to epoch $epochs in $out ${resume[*]}"
  # shellcheck disable=SC2086  # EDGEFER may be a command with arguments; args is a word list
  $edgefer train --fusion "$fusion" --preset edge --seed 0 $args --output "$out" "${resume[@]}"
done
