"""glibc malloc settings (`wellread.malloc`) vs glibc's defaults: the same short fine-tuning run, alternated.

Runs `wellread finetune` (BERT-Tiny-sized model, SST-2 subset, --max-steps) as a subprocess with
WELLREAD_MALLOC=default (glibc defaults) and without it (wellread's settings), `--repeats` times each, alternating,
and prints wall, user and system seconds from the child's resource usage and the wall-time ratio. The gain is an
allocator effect, not an algorithmic one: report it separately.

  python benchmarks/malloc_settings.py --model runs/tiny --data ../shared/data/glue/SST-2
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(args: argparse.Namespace, out: Path, default: bool) -> tuple[float, float, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    env.pop("WELLREAD_MALLOC", None)
    if default:
        env["WELLREAD_MALLOC"] = "default"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wellread.cli", "finetune", "--model", args.model, "--task", "sst2",
                    "--data", args.data, "--max-steps", str(args.steps), "--train-limit", "20000",
                    "--eval-every", "1000000", "--save-every", "0", "--lr", "3e-4", "--out", str(out),
                    "--no-progress"], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a model folder (e.g. the pretrained BERT-Tiny)")
    parser.add_argument("--data", required=True, help="SST-2 folder")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {"glibc defaults": [], "wellread settings": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            rows["glibc defaults"].append(run_once(args, Path(tmp) / "a", default=True))
            rows["wellread settings"].append(run_once(args, Path(tmp) / "b", default=False))
    print("| malloc | wall s (median) | user s | system s |")
    print("|---|---:|---:|---:|")
    for name, runs in rows.items():
        print(f"| {name} | {statistics.median(r[0] for r in runs):.2f} | {statistics.median(r[1] for r in runs):.2f} | "
              f"{statistics.median(r[2] for r in runs):.2f} |")
    ratio = statistics.median(r[0] for r in rows["glibc defaults"]) / statistics.median(
        r[0] for r in rows["wellread settings"])
    print(f"wall-time ratio, defaults / wellread settings: {ratio:.2f}x")


if __name__ == "__main__":
    main()
