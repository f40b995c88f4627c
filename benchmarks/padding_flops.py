"""How much of a FLOPs reduction counted against fixed-length (padded) inputs is padding.

The Length-Adaptive Transformer counts a length configuration's cost on an input padded to the maximum length
(its search profiles a dummy (1, max_seq_length) input), so the padding of every shorter input counts as
dropped tokens. wellread compares against the same model with dynamic padding. For a task's real dev inputs
(QA: every window) this prints the real token counts, the encoder FLOPs of the full model with dynamic padding
against padding to --pad-to, and the model's length configuration (its length_config.json, or --keep/--skip)
against both. No timing: FLOPs only (`wellread.dynamic.cost.encoder_flops`).

  python benchmarks/padding_flops.py --model runs/dynamic/qa-ldl --task squad \\
      --data dev=../shared/data/qa/squadshifts_new_wiki_dev.json --pad-to 384
  python benchmarks/padding_flops.py --model runs/dynamic/sst2-ldl50c --pad-to 128
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from wellread.dynamic.cost import encoder_flops
from wellread.dynamic.run import dev_inputs
from wellread.finetune.run import FinetuneOptions, prepare
from wellread.models.checkpoint import load_model
from wellread.models.length import LengthConfig, read_length_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a fine-tuned model folder")
    parser.add_argument("--task", default="sst2")
    parser.add_argument("--data", nargs="+", help="the task's data (default: SST-2 under $WELLREAD_DATA)")
    parser.add_argument("--pad-to", type=int, default=None, help="the fixed length to compare with (default: the "
                        "task's maximum input length)")
    parser.add_argument("--keep", type=float, nargs="+", help="keep fractions (default: the model's length_config)")
    parser.add_argument("--skip", type=int, nargs="+", default=[], help="with --keep: layers to skip")
    args = parser.parse_args()
    data = args.data or [str(Path(os.environ.get("WELLREAD_DATA", "../shared/data")) / "glue" / "SST-2")]
    prep = prepare(FinetuneOptions(model=args.model, task=args.task, data=data, out=None), train=False)
    config = load_model(args.model, "base")[0].config
    layers = config.num_hidden_layers
    chosen = LengthConfig(tuple(args.keep), skip=tuple(args.skip)) if args.keep else read_length_config(args.model,
                                                                                                         layers)
    ids, _ = dev_inputs(prep.task)
    n = np.array([len(r) for r in ids])
    pad_to = args.pad_to or int(n.max())
    full = encoder_flops(config, LengthConfig.full(layers), n.tolist())
    padded = encoder_flops(config, LengthConfig.full(layers), [pad_to] * len(n))
    print(f"{prep.data.name} dev: {len(n)} inputs, real tokens mean {n.mean():.1f}, median {np.median(n):.0f}, "
          f"max {n.max()}; {(n >= pad_to).mean():.1%} reach {pad_to}")
    print(f"full model: dynamic padding does {padded / full:.2f}x fewer encoder FLOPs than padding to {pad_to}")
    if chosen is not None:
        short = encoder_flops(config, chosen, n.tolist())
        print(f"keep {list(chosen.keep)}, skip {list(chosen.skip)}: {full / short:.2f}x fewer FLOPs than the full "
              f"model with dynamic padding, {padded / short:.2f}x fewer than the full model padded to {pad_to}")


if __name__ == "__main__":
    main()
