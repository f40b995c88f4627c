#!/usr/bin/env bash
# Raw text -> clean, de-duplicated corpus -> fresh WordPiece vocab + packed sequences -> pretrained BERT-Tiny
# -> fill-mask. Each stage is skipped when its output is complete, so a re-run continues after a crash.
#
#   bash recipes/pretrain_tiny.sh [TEXT_DIR] [OUT_DIR]        (defaults: ../shared/data/corpus runs/tiny)
#   STEPS=6000 BATCH=64 bash recipes/pretrain_tiny.sh ...      (defaults: 2000 steps of 64 sequences, ~6 minutes)
set -euo pipefail
SRC=${1:-../shared/data/corpus}
OUT=${2:-runs/tiny}
STEPS=${STEPS:-2000}
BATCH=${BATCH:-64}
VOCAB=${VOCAB:-30522}

if [ ! -f "$OUT/corpus/manifest.json" ]; then
  # The Brown POS files are evaluation data (and repeat brown.txt): keep them out, and drop any document that
  # shares a 13-word run with the dev/test files (brown.txt holds their text too).
  decon=()
  for f in "$SRC/brown_pos/dev.conll" "$SRC/brown_pos/test.conll"; do
    [ -f "$f" ] && decon+=(--decontaminate "$f")
  done
  wellread corpus build "$SRC" --exclude '*/brown_pos/*' "${decon[@]}" --out "$OUT/corpus" --overwrite --no-progress
fi
if [ ! -f "$OUT/packed/pack_report.json" ]; then
  wellread corpus pack "$OUT/corpus" --vocab-size "$VOCAB" --max-length 128 --out "$OUT/packed"
fi
wellread pretrain --data "$OUT/packed" --model tiny --phase "128:$STEPS" --batch-size "$BATCH" \
  --eval-every 100 --save-every 100 --out "$OUT/model" --resume
wellread fill-mask --model "$OUT/model" --top-k 3 \
  "she opened the [MASK] and walked into the room." \
  "the [MASK] of the united states lives in washington."
