"""Dynamic int8 quantization choices: SST-2 dev accuracy and batch-32 time of each, against ONNX fp32.

ONNX Runtime multiplies uint8 activations by int8 weights; on x86 CPUs without VNNI the instruction it uses
(vpmaddubsw) sums pairs of products into saturating int16, so full-range weights can give wrong logits there.
The usual remedies are 7-bit weights (reduce_range) or uint8 weights (a slower kernel); per-channel scales
give back precision. This script quantizes one exported classifier every way, runs each on all SST-2 dev
sentences through wellread's `onnx-int8` pipeline (length-sorted batches of 32, dynamic padding), and prints
accuracy and the best time of --repeats interleaved passes, with the CPU's VNNI support.
`wellread export --int8` uses per-channel, reduce-range (the row marked "wellread").

  python benchmarks/int8_variants.py --model runs/ft/minilm-sst2
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import onnx
import torch
from e2e_classify import accuracy, default_data, read_sst2, wellread_method

from wellread.infer.export import export_onnx, quantize_int8, untie_weights
from wellread.models.checkpoint import load_model

VARIANTS = {  # name -> quantize_dynamic options (weight type, per-channel, reduce_range)
    "int8 per-tensor": dict(per_channel=False, reduce_range=False, unsigned=False),
    "int8 per-tensor, 7-bit": dict(per_channel=False, reduce_range=True, unsigned=False),
    "uint8 per-tensor": dict(per_channel=False, reduce_range=False, unsigned=True),
    "int8 per-channel": dict(per_channel=True, reduce_range=False, unsigned=False),
    "uint8 per-channel": dict(per_channel=True, reduce_range=False, unsigned=True),
}


def quantize(source: Path, target: Path, per_channel: bool, reduce_range: bool, unsigned: bool) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8 if unsigned else QuantType.QInt8,
                     per_channel=per_channel, reduce_range=reduce_range, op_types_to_quantize=["MatMul", "Gemm"])


def cpu_flags() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown"
    have = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f" {f}" in flags]
    return ", ".join(have) or "none of avx2/avx512/vnni"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a fine-tuned sequence-classification folder")
    parser.add_argument("--data", type=Path, default=default_data(), help="SST-2 dev.tsv")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per variant (default 3)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice is meant for image models
    texts, gold = read_sst2(args.data)
    model, _ = load_model(args.model)
    id2label = model.config.id2label or {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        fp32 = export_onnx(model, work / "fp32" / "model.onnx")
        graph = onnx.load(str(fp32))
        untie_weights(graph)
        onnx.save(graph, str(work / "untied.onnx"))
        methods = {"ONNX fp32": wellread_method(args.model, "onnx", work / "fp32")}
        for k, (name, options) in enumerate(VARIANTS.items()):
            quantize(work / "untied.onnx", work / str(k) / "model_int8.onnx", **options)
            methods[name] = wellread_method(args.model, "onnx-int8", work / str(k))
        (work / "ours").mkdir()
        quantize_int8(fp32, work / "ours" / "model_int8.onnx")
        methods["int8 per-channel, 7-bit (wellread)"] = wellread_method(args.model, "onnx-int8", work / "ours")
        for run in methods.values():
            run(texts[:64])  # warm-up
        best = dict.fromkeys(methods, float("inf"))
        labels: dict[str, list[str]] = {}
        for _ in range(args.repeats):
            for name, run in methods.items():
                start = time.perf_counter()
                labels[name] = run(texts)
                best[name] = min(best[name], time.perf_counter() - start)

    print(f"\n{len(texts)} SST-2 dev sentences, batch 32, {args.threads} thread(s), best of {args.repeats}; "
          f"model {args.model}; CPU flags: {cpu_flags()}\n")
    reference = accuracy(labels["ONNX fp32"], gold, id2label)
    print("| weights | accuracy % | vs fp32 | seconds | speed vs fp32 |")
    print("|---|---:|---:|---:|---:|")
    for name in methods:
        acc = accuracy(labels[name], gold, id2label)
        print(f"| {name} | {acc:.2f} | {acc - reference:+.2f} | {best[name]:.3f} | "
              f"{best['ONNX fp32'] / best[name]:.2f}x |")


if __name__ == "__main__":
    main()
