"""Masked-LM pretraining throughput: wellread vs transformers' BertForMaskedLM + AdamW, same run.

Same config and initial weights, batch 32 x 128 tokens, 15% of tokens masked (80/10/10), one optimizer step
per batch. wellread projects to the vocabulary only at masked positions and uses the fused AdamW kernel;
transformers computes logits at every position, as BertForMaskedLM(labels=...) does.
Prints median tokens/s after warm-up for each and the ratio (targets: >= 4x tiny, >= 2x mini, fp32), and
wellread's MFU: its training FLOPs (wellread.models.flops: 3 x forward, the MLM head at masked positions) per
second over this CPU's peak GEMM rate in the precision (`wellread doctor`'s cached probe).

  python benchmarks/pretrain_throughput.py                       # tiny and mini, fp32 and bf16, 2 threads
  python benchmarks/pretrain_throughput.py --presets tiny --steps 10
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import torch.nn.functional as F
import transformers as hf

from wellread.config import preset
from wellread.hardware import peak_flops
from wellread.models import build_model
from wellread.models.flops import training_flops
from wellread.train.masking import mask_tokens


def make_batches(n: int, vocab: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n):
        ids = torch.randint(1000, vocab, (32, 128), generator=g)
        ids[:, 0], ids[:, -1] = 101, 102
        maskable = (ids != 101) & (ids != 102)
        m = mask_tokens(ids, maskable, mask_id=103, vocab_size=vocab, rate=0.15, g=g)
        labels = torch.full_like(ids, -100)
        labels[m.positions] = m.labels
        batches.append({"input_ids": m.input_ids, "positions": m.positions, "targets": m.labels, "labels": labels,
                        "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)})
    return batches


def bench(name: str, dtype: str, steps: int, warmup: int) -> dict:
    config = preset(name)
    torch.manual_seed(0)
    ours = build_model(config, "masked-lm").train()
    theirs = hf.BertForMaskedLM(hf.BertConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"}))
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs.train()
    opt_ours = torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=True)
    opt_theirs = torch.optim.AdamW(theirs.parameters(), lr=1e-4)
    batches = make_batches(4, config.vocab_size)
    flops = statistics.mean(training_flops(config, [128] * 32, int(b["positions"].sum())) for b in batches)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if dtype == "bf16" else contextlib.nullcontext()

    def step_ours(b: dict) -> None:
        with autocast():
            out = ours(b["input_ids"], b["attention_mask"], b["token_type_ids"], masked_positions=b["positions"])
        logits = out.logits
        F.cross_entropy(logits.float(), b["targets"]).backward()
        opt_ours.step()
        opt_ours.zero_grad(set_to_none=True)

    def step_theirs(b: dict) -> None:
        with autocast():
            loss = theirs(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                          token_type_ids=b["token_type_ids"], labels=b["labels"]).loss
        loss.backward()
        opt_theirs.step()
        opt_theirs.zero_grad(set_to_none=True)

    times = {"wellread": [], "transformers": []}
    for i in range(warmup + steps):  # interleaved: machine-load drift hits both equally
        for label, fn in (("wellread", step_ours), ("transformers", step_theirs)):
            t0 = time.perf_counter()
            fn(batches[i % len(batches)])
            if i >= warmup:
                times[label].append(time.perf_counter() - t0)
    tokens = 32 * 128
    ours_tps = tokens / statistics.median(times["wellread"])
    theirs_tps = tokens / statistics.median(times["transformers"])
    peak = peak_flops(dtype)
    mfu = flops / statistics.median(times["wellread"]) / peak if peak else float("nan")
    return {"wellread": ours_tps, "transformers": theirs_tps, "ratio": ours_tps / theirs_tps, "mfu": mfu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=["tiny", "mini"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20, help="measured steps per side (after warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {hf.__version__}, {args.threads} threads, batch 32 x 128")
    print("| preset | dtype | wellread tokens/s | transformers tokens/s | ratio | wellread MFU |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.presets:
        for dtype in args.dtypes:
            r = bench(name, dtype, args.steps, args.warmup)
            print(f"| {name} | {dtype} | {r['wellread']:.0f} | {r['transformers']:.0f} | {r['ratio']:.2f} | "
                  f"{100 * r['mfu']:.1f}% |", flush=True)


if __name__ == "__main__":
    main()
