"""Evaluate a fine-tuned model on a task's dev (or test) data, beside the majority-class baseline.

The model folder must have the task's head (a sequence classifier for GLUE/SICK/custom, a QA head for SQuAD, a
token classifier for NER/POS) and, for classifiers, the task's label set: a model whose labels differ is an
error (label order may differ: predictions are read by label name). The majority baseline uses the train split
when it is found beside the evaluated file, else the evaluated set itself. A model that predicts a single class
is reported with a loud warning.

--task sts scores a sentence-embedding model (a bare encoder, as `wellread embed` reads it) zero-shot, with no
training: the cosine similarity of each pair's two embeddings against its gold score, as Spearman and Pearson
(x100) beside a bag-of-words cosine baseline, and the sentences embedded per second on --backend. The pairs are a
GLUE STS-B or SICK layout (found as --task stsb / sick-r find them), or your CSV/TSV/JSONL with
--text-pair-column (--text-column, and --label-column for the score).

Examples:
  wellread evaluate --model sst2-mini --task sst2 --data glue/SST-2
  wellread evaluate --model mnli-mini --task mnli --data glue_data/MNLI --output mnli-eval.json
  wellread evaluate --model qa-mini --task squad --data dev=dev-v1.1.json --predictions preds.json
  wellread evaluate --model ner-mini --task ner --data test=conll2003/test.txt --split test
  wellread evaluate --model reviews-mini --task custom --data dev=held_out.csv --text-column review
  wellread evaluate --model all-MiniLM-L6-v2 --task sts --data ../shared/data/sick --backend onnx
  wellread evaluate --model student --task sts --data dev=pairs.jsonl --text-pair-column b --label-column score
"""

from __future__ import annotations

from wellread.finetune.evaluate import evaluate
from wellread.finetune.options import EvaluateOptions

OPTIONS = EvaluateOptions


def run(options: EvaluateOptions) -> int:
    evaluate(options)
    return 0
