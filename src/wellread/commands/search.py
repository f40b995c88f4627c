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

import argparse
from pathlib import Path

from wellread.dynamic.run import SearchRun, search_lengths
from wellread.dynamic.search import SearchOptions
from wellread.errors import WellreadError
from wellread.finetune.options import add_data_arguments, options_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="fine-tuned model folder (the configuration is saved into it)")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder/file (default: the model folder's)")
    p.add_argument("--max-length", type=int, default=None, help="tokens per input (default 128; QA 384; tagging 256)")
    add_data_arguments(p)
    p.add_argument("--select-metric", default=None, help="the dev metric (default: the task's main metric)")
    p.add_argument("--out", type=Path, default=None, help="folder for frontier.json and .png (default MODEL/search)")
    p.add_argument("--no-save", action="store_true", help="do not write length_config.json into the model folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    c = p.add_argument_group("cost")
    c.add_argument("--cost", choices=["latency", "flops"], default="latency",
                   help="what the search minimises (default latency)")
    c.add_argument("--batch-size", type=int, default=32,
                   help="inputs per latency batch: the batch size you will serve (default 32)")
    c.add_argument("--eval-batch-size", type=int, default=64,
                   help="inputs per batch when scoring the dev metric (it does not depend on the batch: each "
                        "input keeps its own share of its real tokens; default 64)")
    c.add_argument("--repeats", type=int, default=3, help="timed runs per batch; the fastest counts (default 3)")
    c.add_argument("--latency-examples", type=int, default=None, metavar="N",
                   help="time N dev inputs spread over the length range (default: all)")
    c.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1: steadier timings)")
    c.add_argument("--max-drop", type=float, default=1.0,
                   help="the chosen configuration may lose at most this many metric points (default 1.0)")
    s = p.add_argument_group("evolution")
    d = SearchOptions()
    s.add_argument("--iterations", type=int, default=d.iterations, help=f"default {d.iterations}")
    s.add_argument("--population", type=int, default=d.population, help=f"initial population (default {d.population})")
    s.add_argument("--mutations", type=int, default=d.mutations, help=f"per iteration (default {d.mutations})")
    s.add_argument("--crossovers", type=int, default=d.crossovers, help=f"per iteration (default {d.crossovers})")
    s.add_argument("--grid", type=int, default=d.grid, help=f"keep shares are multiples of 1/GRID (default {d.grid})")
    s.add_argument("--skip-layers", action="store_true",
                   help="also search over skipping whole layers (for models trained with lengthdrop --layerdrop)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--refine", type=int, default=d.refine, metavar="N",
                   help="after the evolution, up to N more evaluations hill-climbing from the choice (each run "
                        "layer keeping fewer tokens; with --skip-layers also skipped, or a skipped layer swapped "
                        "with its neighbour) while that finds a cheaper configuration within --max-drop "
                        f"(default {d.refine})")
    s.add_argument("--start-from", type=Path, default=None, metavar="FRONTIER_JSON",
                   help="continue an earlier search: the configurations on its frontier (its frontier.json) join "
                        "the initial population and are measured again")
    qa = p.add_argument_group("question answering")
    qa.add_argument("--doc-stride", type=int, default=None, help="context tokens shared by consecutive windows")
    qa.add_argument("--n-best", type=int, default=20)
    qa.add_argument("--max-answer-length", type=int, default=30)
    qa.add_argument("--null-threshold", type=float, default=0.0)
    p.set_defaults(bf16="off")


def run(args: argparse.Namespace) -> int:
    if not args.data:
        raise WellreadError("--data is required: a data folder or SPLIT=FILE items (with a dev split)")
    if min(args.batch_size, args.eval_batch_size, args.repeats, args.threads) < 1:
        raise WellreadError("--batch-size, --eval-batch-size, --repeats and --threads must be at least 1")
    search = SearchOptions(iterations=args.iterations, population=args.population, mutations=args.mutations,
                           crossovers=args.crossovers, grid=args.grid, layer_skip=args.skip_layers,
                           seed=args.seed, refine=args.refine)
    run_options = SearchRun(cost=args.cost, batch_size=args.batch_size, repeats=args.repeats,
                            latency_examples=args.latency_examples, max_drop=args.max_drop, threads=args.threads,
                            out=args.out, save=not args.no_save, search=search,
                            start_from=args.start_from)
    search_lengths(options_from_args(args), run_options)
    return 0
