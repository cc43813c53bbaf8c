#!/usr/bin/env bash
# Train the five shipped edge variants on ../shared/data (or $EDGEFER_DATA), resuming any run that
# was cut off. Usage: scripts/train-all.sh [RUNS_DIR]   (env: STAGES, EDGEFER)
#
# The recipe (why, in benchmarks/results/accuracy.md):
#   face-unmasked the face model on unmasked faces first (lr 1e-3, cosine over 10 epochs): trained on
#                 80 % masked faces from scratch, the edge face model stays at the majority class
#                 (52 % val after 3 epochs at lr 1e-3 on a lent H200; 54 % after 8 epochs on the CPU)
#   face          then fine-tuned from it on 80 % masked faces, lr 5e-4 with a cosine decay
#   voice         from scratch, the paper's lr 1e-4
#   middle, late  start from the trained face and voice runs (--init-from), fine-tuned at 1e-4 with
#                 40 % of training voices drawn from a random class (--voice-mismatch), so the fusion
#                 learns how far an unseen speaker's voice can be trusted
#   early         from scratch (its first convolution sees both images stacked; nothing to reuse)
#
# How the shipped models were made (their config.json/state.json are in the metrics files): face-unmasked
# and early ran on a lent H200 with Keras' torch backend (scripts/gpu_train.py) and were stopped by the
# device time limit after epoch 4 of 10 and epoch 7 of 30; face, middle and late ran on the 2-core CPU
# with TensorFlow exactly as below; voice is the 30-epoch CPU run. This script runs every schedule to
# its end, so its weights differ from the shipped ones (and torch and TensorFlow are not bit-identical).
set -euo pipefail
runs=${1:-runs/shipped}
edgefer=${EDGEFER:-.venv/bin/edgefer}
mkdir -p "$runs"

recipe() {
  case "$1" in
    face-unmasked) echo "--epochs 10 --learning-rate 1e-3 --lr-schedule cosine --mask-fraction 0" ;;
    face)   echo "--epochs 3 --learning-rate 5e-4 --lr-schedule cosine --init-from $runs/face-unmasked" ;;
    voice)  echo "--epochs 30 --learning-rate 1e-4" ;;
    middle) echo "--epochs 4 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    late)   echo "--epochs 2 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    early)  echo "--epochs 30 --learning-rate 1e-3 --lr-schedule cosine --voice-mismatch 0.4" ;;
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
