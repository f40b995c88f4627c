"""Continue training a fine-tuned model with LengthDrop so that it works at any sequence length per layer.

Length-Adaptive Transformer training (Kim & Cho 2021): every step trains the full model on the task's loss and,
with in-place distillation from the full model's outputs, the smallest sub-model (each layer keeps exactly
1 - p of the previous layer's tokens) and --sub-models random ones (each layer keeps between 1 - p and all of
them); the losses are averaged (the sandwich rule). Layers keep the tokens that receive the most attention;
[CLS] is always kept; for QA and tagging, dropped tokens are restored at the last layer so every position gets
an output. --layerdrop P also skips each layer of the random sub-models with probability P (LayerDrop, Fan et
al. 2020), so that `wellread search --skip-layers` can drop whole layers: what speeds up batch 1 on short inputs.
--smallest-skip I [I ...] makes the smallest sub-model skip those layers too: a second LengthDrop run with the
best skip set the search found trains that sub-network every step.

Start from a model fine-tuned on the same task. OUT is a Hugging Face model folder with results.json (the full
model's dev metrics and the smallest sub-model's, prefixed smallest_). Then run `wellread search` on OUT to
pick the fastest length configuration within a metric budget.

Examples:
  wellread lengthdrop --model sst2-mini --task sst2 --data glue/SST-2 --out sst2-mini-ld
  wellread lengthdrop --model qa-mini --task squad --data train=train.json dev=dev.json --out qa-mini-ld \\
      --epochs 2 --length-drop-prob 0.2 --sub-models 2
  wellread lengthdrop --model ner-mini --task ner --data conll2003/ --out ner-mini-ld --layerdrop 0.1
  wellread lengthdrop --model sst2-mini-ld --task sst2 --data glue/SST-2 --out sst2-mini-ld2 --layerdrop 0.5 \\
      --smallest-skip 0 2
"""

from __future__ import annotations

from wellread.dynamic.options import LengthDropOptions
from wellread.dynamic.run import lengthdrop

OPTIONS = LengthDropOptions


def run(options: LengthDropOptions) -> int:
    lengthdrop(options)
    return 0
