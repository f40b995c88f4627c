"""Distil a teacher into a smaller student: prediction-layer (soft targets) and TinyBERT layer distillation.

With a task (--task sst2, mrpc, sick-r, ner, squad, custom, ...) the teacher must be fine-tuned on it. Two stages
run in one command (--stage both; the default `auto` runs both when the models share a tokenizer):
  1. intermediate: the student's embedding output, hidden states (through a learned projection when the widths
     differ) and pre-softmax attention scores (padding excluded; a 12-head teacher's heads averaged in groups to
     the student's count) learn the teacher's, student layer m <- teacher layer m*N/M (or --layer-map);
     written to OUT/intermediate (projection beside it: distill_projection.safetensors, never in the weights);
  2. prediction: alpha * soft loss + (1 - alpha) * gold loss on the labelled set, the soft loss alone on the
     transfer set (--transfer, and --augment's new examples): soft cross-entropy at --temperature
     (classification), squared error (regression), per-token (tagging), start/end distributions (QA).
The teacher's outputs are computed once and cached in OUT/teacher_outputs when the data is seen more than once.

Tokenizers: layer losses compare token by token and need the same tokenizer; prediction-layer distillation of
classification and tagging does not (the teacher reads each example through its own tokenizer), so a student
with its own vocabulary can learn from any fine-tuned teacher with --stage prediction. To get a student with
the teacher's vocabulary, distil a preset from the pretrained teacher on raw text first (--task none, general
distillation: layer losses only, --data = a packed corpus or text files).

OUT is a Hugging Face model folder (plus results.json for a task) that `wellread finetune`, `evaluate` and a
next `wellread distill` (as student or teacher) read: distil MNLI first, then start each task from it.

Examples:
  wellread finetune --model $MINILM --task sst2 --data glue/SST-2 --out minilm-sst2        # the teacher
  wellread distill --teacher minilm-sst2 --student runs/tiny --task sst2 --data glue/SST-2 --out tiny-sst2 \\
      --stage prediction --epochs 3 --alpha 0.5 --temperature 2
  wellread distill --teacher $MINILM --student tiny --task none --data packed/ --out tiny-minilm-vocab \\
      --epochs 1 --lr 5e-4                                                   # general distillation
  wellread distill --teacher minilm-sst2 --student tiny-minilm-vocab --task sst2 --data glue/SST-2 \\
      --out tiny-sst2-tinybert --intermediate-epochs 10 --epochs 3          # both stages, uniform map 0,3,6
  wellread distill ... --layer-map 0,2,6 --layer-losses hidden,attention
  wellread distill ... --augment --augment-model runs/tiny --augment-n 20 --augment-max 200000
  wellread distill ... --transfer unlabelled_reviews.txt --alpha 0.7
  wellread distill --teacher minilm-mnli --student tiny --task mnli ... --out tiny-mnli         # chaining:
  wellread distill --teacher minilm-rte --student tiny-mnli --task rte ... --new-head --out tiny-rte
"""

from __future__ import annotations

from wellread.distill.general import distill_general
from wellread.distill.options import DistillOptions
from wellread.distill.run import distill_task

OPTIONS = DistillOptions


def run(options: DistillOptions) -> int:
    if options.task.lower() == "none":
        distill_general(options)
    else:
        distill_task(options)
    return 0
