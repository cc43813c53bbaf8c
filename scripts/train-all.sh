#!/usr/bin/env bash
# Train the five edge variants on ../shared/data (or $EDGEFER_DATA) with the unseen-people recipe,
# resuming any run that was cut off. Usage: scripts/train-all.sh [RUNS_DIR]   (env: STAGES, EDGEFER)
#
# The unseen-people recipe ("hold on people the model never saw"). RECIPE below spells out the defaults
# of `edgefer train`, so this script says what it trains with:
#   --class-weights balanced  loss weights N / (3 n_c): 52 % of FER2013 faces are negative, and the
#                             unweighted face model recalled 12 % of neutral faces
#   --select-by macro_f1      model.keras is the epoch with the best validation macro-F1, and
#   --patience 0              no early stopping: every epoch runs and the best one is kept (patience 5
#                             stopped voice folds at 6-8 epochs on 2 validation actors)
#   --warmup-epochs 1         linear warm-up of the learning rate over the first epoch, per step
#   --face-augment strong     flip/rotation/shift, wider brightness/contrast, blur, an occluding box
#   --fresh-masks             a new synthetic mask (shape, colour, geometry) per face and epoch
#   --voice-augment strong    waveform speed/shift/tilt/noise, then rotation/zoom and SpecAugment
#   --extra-voices ...        RAVDESS calm/sad/fearful/disgust clips of the training actors (448)
#
# The stages (why, in benchmarks/results/accuracy.md):
#   face-unmasked the face model on unmasked faces first (lr 1e-3, cosine): trained on 80 % masked
#                 faces from scratch, the edge face model stayed at the majority class
#   face          then fine-tuned from it on 80 % masked faces, lr 5e-4 with a cosine decay
#   voice         from scratch, the paper's lr 1e-4
#   middle, late  start from the trained face and voice runs (--init-from), fine-tuned at 1e-4 with
#                 40 % of training voices drawn from a random class (--voice-mismatch), so the fusion
#                 learns how far an unseen speaker's voice can be trusted
#   early         from scratch (its first convolution sees both images stacked; nothing to reuse)
#
# Run folders made before this recipe (the shipped models' runs/shipped: their config.json/state.json
# are in the metrics files) were trained without these options; `--resume` refuses to continue them
# with other settings, so give this script a new RUNS_DIR. A stage is done when it reached its
# --epochs or stopped early.
set -euo pipefail
runs=${1:-runs/recipe12}
edgefer=${EDGEFER:-.venv/bin/edgefer}
mkdir -p "$runs"

RECIPE="--class-weights balanced --select-by macro_f1 --patience 0 --warmup-epochs 1 \
--face-augment strong --fresh-masks --voice-augment strong \
--extra-voices calm=neutral,disgust=negative,fearful=negative,sad=negative"

recipe() {
  case "$1" in
    face-unmasked) echo "--epochs 10 --learning-rate 1e-3 --lr-schedule cosine --mask-fraction 0" ;;
    face)   echo "--epochs 10 --learning-rate 5e-4 --lr-schedule cosine --init-from $runs/face-unmasked" ;;
    voice)  echo "--epochs 40 --learning-rate 1e-4" ;;
    middle) echo "--epochs 8 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    late)   echo "--epochs 4 --learning-rate 1e-4 --lr-schedule cosine --voice-mismatch 0.4 --init-from $runs/face --init-from $runs/voice" ;;
    early)  echo "--epochs 30 --learning-rate 1e-3 --lr-schedule cosine --voice-mismatch 0.4" ;;
  esac
}

finished() {  # the run reached its epochs or stopped early: prints yes or no
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); \
print('yes' if s['epoch'] >= int(sys.argv[2]) or s.get('stopped_early') else 'no')" "$1" "$2"
}

for stage in ${STAGES:-face-unmasked face voice middle late early}; do
  fusion=${stage%-unmasked}
  out="$runs/$stage"
  args=$(recipe "$stage")
  epochs=$(echo "$args" | awk '{print $2}')
  if [ -f "$out/metrics.json" ] && [ "$(finished "$out/state.json" "$epochs")" = yes ]; then
    echo "== $stage: done ($out)"; continue
  fi
  resume=()
  [ -f "$out/state.json" ] && resume=(--resume)
  echo "== $stage: training to epoch $epochs at most in $out ${resume[*]}"
  # shellcheck disable=SC2086  # EDGEFER may be a command with arguments; args is a word list
  $edgefer train --fusion "$fusion" --preset edge --seed 0 $args $RECIPE --output "$out" "${resume[@]}"
done
