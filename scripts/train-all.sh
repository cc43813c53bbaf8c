#!/usr/bin/env bash
# Train the five shipped edge variants on ../shared/data (or $EDGEFER_DATA), resuming any run that
# was cut off. Usage: scripts/train-all.sh [RUNS_DIR]   (env: STAGES, EDGEFER)
#
# The recipe (why, in benchmarks/results/accuracy.md):
#   face-unmasked the face model on unmasked faces first (lr 1e-3): with 80 % masked faces from the
#                 start, the edge face branch stays near the majority class for the epochs a 2-core
#                 CPU affords (54 % val after 2 epochs, against 65 % unmasked)
#   face          then fine-tuned from it on 80 % masked faces, lr 1e-3 with a cosine decay
#   voice         from scratch, the paper's lr 1e-4
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
    face-unmasked) echo "--epochs 3 --learning-rate 1e-3 --mask-fraction 0" ;;
    face)   echo "--epochs 8 --learning-rate 1e-3 --lr-schedule cosine --init-from $runs/face-unmasked" ;;
    voice)  echo "--epochs 30 --learning-rate 1e-4" ;;
    middle) echo "--epochs 5 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    late)   echo "--epochs 3 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    early)  echo "--epochs 10 --learning-rate 1e-3 --lr-schedule cosine --voice-mismatch 0.4" ;;
  esac
}

for stage in ${STAGES:-face-unmasked face voice middle late early}; do
  fusion=${stage%-unmasked}
  out="$runs/$stage"
  args=$(recipe "$stage")
  epochs=$(echo "$args" | awk '{print $2}')
  if [ -f "$out/metrics.json" ] && [ "$(python3 -c "import json;print(json.load(open('$out/state.json'))['epoch'])")" -ge "$epochs" ]; then
    echo "== $stage: done ($out)"; continue
  fi
  resume=()
  [ -f "$out/state.json" ] && resume=(--resume)
  echo "== $stage: training to epoch $epochs in $out ${resume[*]}"
  # shellcheck disable=SC2086  # EDGEFER may be a command with arguments; args is a word list
  $edgefer train --fusion "$fusion" --preset edge --seed 0 $args --output "$out" "${resume[@]}"
done
