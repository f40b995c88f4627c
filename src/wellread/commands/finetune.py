"""Fine-tune a model on a GLUE/SICK task, SQuAD-style QA, CoNLL tagging or your own CSV/TSV/JSONL data.

Training runs on the one training loop: batches of similar lengths padded only to their longest member,
warm-up and linear decay, optional bf16 autocast, evaluation every epoch (or --eval-every N steps) and at
the end, and the best checkpoint on the task's main metric kept as the output. OUT is a Hugging Face model
folder (config.json with id2label/label2id and problem_type, model.safetensors, tokenizer files) that
`transformers.AutoModelFor...` loads, plus results.json (metrics beside the majority-class baseline, a
warning when the model predicts a single class), log.jsonl, and for QA predictions.json.

Tasks: cola sst2 mrpc stsb qqp mnli qnli rte wnli (GLUE TSV folders), sick-r sick-e (SICK folder), squad /
squad2 (SQuAD JSON), ner / pos (CoNLL files), custom (--text-column, --text-pair-column, --label-column,
--regression). --data is a folder (the usual file names are looked up) or SPLIT=FILE items.

Examples:
  wellread finetune --model bert-mini --task sst2 --data glue/SST-2 --out sst2-mini
  wellread finetune --model bert-mini --task mnli --data glue_data --out mnli-mini --epochs 3 --lr 1e-4
  wellread finetune --model bert-mini --task rte --data glue/RTE --out rte-grid --grid          # 20 runs, best kept
  wellread finetune --model bert-mini --task mrpc --data glue/MRPC --out mrpc --grid \\
      --grid-batch-sizes 16,32 --grid-lrs 1e-4,5e-5 --epochs 3                                 # rerun to resume
  wellread finetune --model bert-mini --task squad --data train=train-v1.1.json dev=dev-v1.1.json --out qa
  wellread finetune --model bert-mini --task ner --data conll2003/ --out ner-mini
  wellread finetune --model bert-mini --task custom --data train=reviews.csv dev=held_out.csv \\
      --text-column review --label-column stars --out reviews-mini
  wellread finetune --model bert-mini --task sst2 --data glue/SST-2 --out quick --train-limit 2000 --epochs 1
  torchrun --nproc-per-node 2 -m wellread.cli finetune --model bert-mini --task sst2 --data glue/SST-2 \\
      --out sst2-ddp          # DDP: --batch-size is the global batch, split over the processes
"""

from __future__ import annotations

from wellread.finetune.grid import finetune
from wellread.finetune.options import FinetuneOptions

OPTIONS = FinetuneOptions


def run(options: FinetuneOptions) -> int:
    finetune(options)
    return 0
