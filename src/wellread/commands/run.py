"""Run a recipe: a YAML pipeline of wellread stages, from raw text to a served, documented compact model.

Stages run in the order listed, each one's output feeding the next (corpus -> tokenizer -> pack -> pretrain ->
finetune -> evaluate -> card). Each writes into OUT/NAME, and one whose output is complete for the same
options and inputs is skipped: a re-run after a crash continues after the last complete stage (pretraining
and fine-tuning continue their own checkpoints), and a changed option or a new corpus snapshot re-runs that
stage and every one after it. At the end: the stage summary, the results table and where the models and
their cards (README.md, Hugging Face conventions) are.

Stage types and their options: package-docs, corpus, tokenizer, pack, pretrain, general-distill, finetune,
distill, lengthdrop, search, export, evaluate, card (see STAGES in src/wellread/recipe/stages.py for each
type's options dataclass, and recipes/ for complete examples). `${VAR:-default}` in a value is read
from the environment.

Examples:
  wellread run recipes/olm_snapshot.yaml --set corpus.snapshot_date=2026-12-01 --out runs/olm-2026-12
  wellread run recipes/bert_miniatures_glue.yaml --set pretrain.phases='["128:9000", "512:1000"]'
  MODEL=path/to/minilm wellread run recipes/dynamic_sst2.yaml        # LengthDrop + length search on SST-2
  wellread run my_recipe.yaml --check                 # validate only: every problem with its field and line
  wellread run my_recipe.yaml --set threads=1         # one torch thread (other work holds the other cores)
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", type=Path, help="the recipe file (YAML)")
    p.add_argument("--out", default=None, help="work folder (default: the recipe's `out`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value: `out`, `name`, or STAGE_NAME.OPTION (the value is read as YAML)")
    p.add_argument("--check", action="store_true", help="validate the recipe and show the plan; run nothing")


def run(args: argparse.Namespace) -> int:
    from wellread.recipe.report import print_outcome
    from wellread.recipe.runner import Runner, plan
    from wellread.recipe.schema import load_recipe, parse_overrides
    from wellread.recipe.stages import option_types

    overrides = parse_overrides(args.overrides)
    if args.out:
        overrides["out"] = args.out
    recipe = load_recipe(args.recipe, option_types(), overrides)
    if args.check:
        for i, planned in enumerate(plan(recipe), 1):
            sources = ", ".join(f"{option} from {source or repr(value)}" for option, value, source in planned.inputs)
            print(f"[{i}] {planned.spec.name} ({planned.spec.type})" + (f": {sources}" if sources else ""))
        print(f"{args.recipe}: valid, {len(recipe.stages)} stages -> {recipe.out}")
        return 0
    print_outcome(Runner(recipe).run())
    return 0
