"""End-to-end classification speed: SST-2 dev sentences in, labels out (tokenization included), batch 32.

Compared in one run, on the same fine-tuned weights (--model, a sequence-classification folder):

- wellread: `load_pipeline(model, backend=...)` for torch (fp32), torch-bf16, onnx and onnx-int8: batches of
  similar length (sorted), each padded only to its longest sentence.
- transformers: `transformers.pipeline("text-classification", batch_size=32)` on the same folder (fp32, each
  batch of 32 consecutive sentences padded to its longest).
- ONNX Runtime int8 at a fixed length of 128: the same int8 model, inputs tokenized by transformers' tokenizer
  with padding="max_length" and max_length=128, as an Optimum export is typically fed; argmax of the logits.

Every method classifies all sentences --repeats times, the methods interleaved; the best time of each is kept
(the machine may be shared). Accuracy against the dev labels is printed beside each speed; targets: the fastest
wellread backend >= 5x transformers and >= 1.5x ONNX Runtime int8 at length 128, int8 within 1 point of fp32.
All methods use --threads CPU threads (torch and ONNX Runtime alike).

  python benchmarks/e2e_classify.py --model /work/runs/mini-sst2
  python benchmarks/e2e_classify.py --model sst2-mini --threads 2 --repeats 5 --json e2e.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from wellread.infer import load_pipeline
from wellread.infer.backends import OnnxBackend
from wellread.infer.export import export_folder
from wellread.models.checkpoint import load_model

BATCH = 32
OURS = ("torch", "torch-bf16", "onnx", "onnx-int8")


def default_data() -> Path:
    root = Path(os.environ.get("WELLREAD_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    return root / "glue" / "SST-2" / "dev.tsv"


def read_sst2(path: Path) -> tuple[list[str], list[str]]:
    """Sentences and gold labels of a GLUE SST-2 TSV (header row; quoting disabled: quotes are text)."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence"] for r in rows], [r["label"] for r in rows]


def wellread_method(model: Path, backend: str, onnx_dir: Path) -> Callable[[list[str]], list[str]]:
    pipe = load_pipeline(model, backend=backend, batch_size=BATCH, onnx_dir=onnx_dir)
    return lambda texts: [out["label"] for out in pipe(texts)]


def transformers_method(model: Path) -> Callable[[list[str]], list[str]]:
    import transformers as hf

    pipe = hf.pipeline("text-classification", model=str(model), tokenizer=str(model), device="cpu",
                       batch_size=BATCH)
    return lambda texts: [out["label"] for out in pipe(texts)]


def ort_fixed_method(model: Path, onnx_path: Path, threads: int, length: int = 128) -> Callable[[list[str]], list]:
    import transformers as hf

    tokenizer = hf.AutoTokenizer.from_pretrained(str(model))
    session = OnnxBackend(onnx_path, threads).session
    id2label = hf.AutoConfig.from_pretrained(str(model)).id2label

    def run(texts: list[str]) -> list[str]:
        labels = []
        for start in range(0, len(texts), BATCH):
            enc = tokenizer(texts[start:start + BATCH], padding="max_length", max_length=length, truncation=True,
                            return_tensors="np")
            logits = session.run(None, {k: enc[k].astype(np.int64) for k in
                                        ("input_ids", "attention_mask", "token_type_ids")})[0]
            labels += [id2label[int(i)] for i in logits.argmax(-1)]
        return labels

    return run


def accuracy(predicted: list[str], gold: list[str], id2label: dict[int, str]) -> float:
    """Percent correct; gold labels are class indices ("0"/"1"), mapped to the model's label names."""
    names = [id2label.get(int(g), g) for g in gold]
    return 100.0 * float(np.mean([p == g for p, g in zip(predicted, names, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a fine-tuned sequence-classification folder")
    parser.add_argument("--data", type=Path, default=default_data(), help="SST-2 dev.tsv")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for every method (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the data per method (default 3)")
    parser.add_argument("--onnx-dir", type=Path, default=None, help="model.onnx + model_int8.onnx (default: export)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    texts, gold = read_sst2(args.data)
    model, _ = load_model(args.model)
    id2label = model.config.id2label or {}
    with tempfile.TemporaryDirectory() as scratch:
        onnx_dir = args.onnx_dir
        if onnx_dir is None:
            onnx_dir = Path(scratch)
            for agreement in export_folder(model, onnx_dir, source=args.model, int8=True):
                print("export check:", agreement.line())
        methods = {f"wellread {name}": wellread_method(args.model, name, onnx_dir) for name in OURS}
        methods["transformers pipeline"] = transformers_method(args.model)
        methods["ORT int8, fixed 128"] = ort_fixed_method(args.model, onnx_dir / "model_int8.onnx", args.threads)
        for run in methods.values():
            run(texts[:64])  # warm-up
        best = dict.fromkeys(methods, float("inf"))
        labels: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            for name, run in methods.items():
                start = time.perf_counter()
                labels[name] = run(texts)
                best[name] = min(best[name], time.perf_counter() - start)

    fastest = min((n for n in methods if n.startswith("wellread")), key=lambda n: best[n])
    rows = [{"method": n, "seconds": best[n], "sentences_per_s": len(texts) / best[n],
             "accuracy": accuracy(labels[n], gold, id2label)} for n in methods]
    print(f"\n{len(texts)} SST-2 dev sentences, batch {BATCH}, {args.threads} thread(s), best of {args.repeats}; "
          f"model {args.model} ({model.config.num_hidden_layers} layers x {model.config.hidden_size})\n")
    print("| method | seconds | sentences/s | accuracy % | fastest wellread is ... x faster |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['method']} | {row['seconds']:.3f} | {row['sentences_per_s']:.0f} | {row['accuracy']:.2f} | "
              f"{row['seconds'] / best[fastest]:.2f} |")
    speedup_hf = best["transformers pipeline"] / best[fastest]
    speedup_ort = best["ORT int8, fixed 128"] / best[fastest]
    by_name = {r["method"]: r for r in rows}
    int8_gap = by_name["wellread torch"]["accuracy"] - by_name["wellread onnx-int8"]["accuracy"]
    print(f"\nfastest wellread backend: {fastest}")
    print(f"vs transformers pipeline: {speedup_hf:.1f}x (target >= 5x) {'PASS' if speedup_hf >= 5 else 'FAIL'}")
    print(f"vs ORT int8 fixed 128:    {speedup_ort:.1f}x (target >= 1.5x) {'PASS' if speedup_ort >= 1.5 else 'FAIL'}")
    verdict = "PASS" if abs(int8_gap) <= 1 else "FAIL"
    print(f"int8 accuracy vs fp32:    {-int8_gap:+.2f} points (target within 1) {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "fastest": fastest, "threads": args.threads,
                                         "cpu": platform.processor() or platform.machine(),
                                         "speedup_transformers": speedup_hf, "speedup_ort_int8_128": speedup_ort},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
