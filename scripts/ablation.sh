#!/usr/bin/env bash
# docs/ablation.md's tables, in one command (about 43 minutes on a 2-core CPU: the data 6, the factorial 37)
#   scripts/ablation.sh [WORK_DIR] [RESTARTS]
# 1. the synthetic benchmark: seed 1 to train (320 videos, 3 views), seeds 2 and 4 held out (100 each)
# 2. the cheap check: the bundled synthetic checkpoints under every keyframe rule, no retraining
# 3. the factorial: keyframe rule x relations x theta (and controls), RESTARTS seeds each (default 8)
# Tables: WORK_DIR/check.md and WORK_DIR/factorial.md; every restart's figures: WORK_DIR/factorial.json
# (`python scripts/ablation.py table WORK_DIR/factorial.json` prints the tables again).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/wecl-ablation}
RESTARTS=${2:-8}
PY=${PYTHON:-.venv/bin/python}
SOURCE=checkpoints/wecl-untrained-tiny
[ -f "$WORK/train/annotations.json" ] || $PY -m wecl synth --out "$WORK/train" --videos 320 --seed 1
$PY -m wecl extract "$WORK/train" --out "$WORK/features" --checkpoint "$SOURCE" --views 3
TESTS=()
for SEED in 2 4; do
  [ -f "$WORK/heldout$SEED/annotations.json" ] || $PY -m wecl synth --out "$WORK/heldout$SEED" --videos 100 --seed "$SEED"
  $PY -m wecl extract "$WORK/heldout$SEED" --out "$WORK/feat$SEED" --checkpoint "$SOURCE" --views 1
  TESTS+=(--test "$WORK/feat$SEED:$WORK/heldout$SEED")
done
$PY scripts/ablation.py check --checkpoint checkpoints/wecl-synth-demo --checkpoint checkpoints/wecl-synth-paper \
    "${TESTS[@]}" --out "$WORK/check.md"
$PY scripts/ablation.py factorial --train-store "$WORK/features" "${TESTS[@]}" --restarts "$RESTARTS" \
    --raw "$WORK/factorial.json" --out "$WORK/factorial.md"
