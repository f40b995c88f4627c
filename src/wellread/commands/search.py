"""Search the length configuration (tokens kept per layer) that makes a model fastest within a metric budget.

An evolutionary search (Length-Adaptive Transformer, Kim & Cho 2021): an initial population spread over cost,
then --iterations rounds of mutation and crossover of the Pareto frontier of cost against the dev metric,
then (with --refine N) up to N evaluations hill-climbing from the choice towards cheaper configurations that
stay within the budget.
Cost is the CPU latency of the real model on the real dev batches (fp32, no autograd, batches of similar
lengths padded to their longest; each batch run --repeats times alternately with the configuration and at full
length, the fastest of each counting, and the full model's time scaled by their ratio: steady even when other
work shares the machine), or estimated FLOPs with
--cost flops (deterministic: the same --seed gives the same search). FLOPs are reported beside latency.

Writes OUT/frontier.json (every configuration evaluated, the frontier, the full model, the choice and its
measured speed-up at --batch-size and at batch 1) and OUT/frontier.png, and saves the fastest configuration
within --max-drop points of the full model's metric into the model folder as length_config.json: from then on
every pipeline that loads the folder runs at those lengths (delete the file for full length). Use a model
trained with `wellread lengthdrop`; any BERT fine-tuned on the task works, with larger drops.

--skip-layers also searches over skipping whole layers: use it on a model trained with `lengthdrop --layerdrop`,
and with --batch-size 1 when you serve one input at a time. On short inputs at batch 1 a layer costs nearly as
much for a few tokens as for all (its weights are read either way), so skipping layers does most there.

Examples:
  wellread search --model sst2-mini-ld --task sst2 --data glue/SST-2
  wellread search --model sst2-mini-ld --task sst2 --data glue/SST-2 --max-drop 0.5 --iterations 10 \\
      --latency-examples 256 --out sst2-search
  wellread search --model qa-mini-ld --task squad --data dev=dev.json --batch-size 32 --threads 4
  wellread search --model sst2-mini-ld --task sst2 --data glue/SST-2 --cost flops --seed 1 --no-save
  wellread search --model sst2-mini-ldl --task sst2 --data glue/SST-2 --skip-layers --batch-size 1 \\
      --latency-examples 256
  wellread search --model sst2-mini-ldl --task sst2 --data glue/SST-2 --skip-layers --batch-size 1 \\
      --start-from sst2-mini-ldl/search/frontier.json --out sst2-mini-ldl/search2    # search on from there
  wellread search --model sst2-mini-ldl --task sst2 --data glue/SST-2 --skip-layers --batch-size 1 \\
      --start-from sst2-mini-ldl/search/frontier.json --iterations 0 --refine 40     # refine an earlier choice
"""

from __future__ import annotations

from wellread.dynamic.options import SearchOptions
from wellread.dynamic.run import search_lengths

OPTIONS = SearchOptions


def run(options: SearchOptions) -> int:
    search_lengths(options)
    return 0
