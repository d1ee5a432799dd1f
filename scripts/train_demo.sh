#!/usr/bin/env bash
# The demo checkpoint checkpoints/wecl-synth-demo, in one command (about 6 minutes on a 2-core CPU):
#   scripts/train_demo.sh [WORK_DIR]
# 1. synthetic training set, seed 1 (160 videos: 120 training, 40 validation)
# 2. backbone features of wecl-untrained-tiny (random frozen 3D/2D ResNet-18 at quarter width), 3 views
# 3. heads trained with eq. 12; Adam lr 1e-3 for 40 epochs instead of the paper's SGD 2e-4 (so it
#    trains in seconds), best of 32 restarts on the validation videos
# 4. a held-out check on seed 2 (never used in training)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/wecl-demo}
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-checkpoints/wecl-synth-demo}
$PY -m wecl synth --out "$WORK/train" --videos 160 --seed 1
$PY -m wecl extract "$WORK/train" --out "$WORK/features" --checkpoint checkpoints/wecl-untrained-tiny --views 3
$PY -m wecl train "$WORK/features" --out "$WORK/run" --optimizer adam --lr 1e-3 --epochs 40 --relation-dim 64 \
    --theta 0.5 --no-intra --no-inter --restarts 32 --select map --quiet \
    --description "Demo WECL trained on the synthetic cue benchmark (seed 1) with the random frozen backbones of wecl-untrained-tiny."
mkdir -p "$OUT"
cp "$WORK/run/config.json" "$WORK/run/model.safetensors" "$WORK/run/README.md" "$OUT/"
cp "$WORK/run/train_log.csv" "$OUT/"
$PY -m wecl synth --out "$WORK/heldout" --videos 40 --seed 2
$PY -m wecl evaluate --checkpoint "$OUT" --dataset "$WORK/heldout" --json "$OUT/heldout_seed2.json"
