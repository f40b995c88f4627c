"""Pretrain a compact BERT with masked-LM (and optionally sentence-order prediction) on packed sequences.

The data is the output of `wellread corpus pack` (its `tokenizer/` and `len{L}/train|val` folders). Each
`--phase LENGTH:STEPS` trains on sequences of that maximum length with its own warm-up and decay, as the
two-phase BERT recipe does (e.g. 128 then 512); a later phase starts from the earlier one's weights.
Each phase writes resumable checkpoints; `--resume` continues a stopped run exactly (model, optimizer,
schedule, random state, data position) and skips finished phases. The output folder is a Hugging Face
model folder (config.json, model.safetensors, vocab.txt, tokenizer.json) that `transformers` loads.

Examples:
  wellread pretrain --data packed/ --model tiny --out bert-tiny --phase 128:5000
  wellread pretrain --data packed/ --model mini --out bert-mini --phase 128:9000 --phase 512:1000 \\
      --masking whole-word --sop --optimizer lamb --lr 2e-3 --batch-size 256 --grad-accum 8
  torchrun --nproc-per-node 2 -m wellread.cli pretrain --data packed/ --out bert-tiny   # DDP (gloo on CPU)
"""

from __future__ import annotations

import json

from wellread.train.loop import distributed
from wellread.train.pretrain import PretrainOptions, pretrain

OPTIONS = PretrainOptions


def run(options: PretrainOptions) -> int:
    phases = pretrain(options)
    if distributed()[0] == 0:
        last = phases[-1]["eval"]
        print(f"model written to {options.out}" + (f": {json.dumps(last)}" if last else ""))
    return 0
