"""The quickstart: raw English text to a pretrained compact BERT, a fine-tuned classifier and their model cards,
offline, in a few minutes on two CPU cores.

It runs the recipe embedded in wellread (src/wellread/recipe/quickstart.yaml; --print-recipe shows it):
package-docs (English prose from the documentation installed with wellread's dependencies, and a labelled
task: which library area a sentence is about) -> corpus build -> a fresh 8k WordPiece vocabulary -> pack ->
BERT-Tiny masked-LM pretraining -> fine-tuning on the task -> evaluation and speed -> model cards. Then it
shows what the two models answer. A re-run skips the stages already complete.

With --data the same stages pretrain on your own files (text, JSONL, Wikipedia XML, Common Crawl WET) instead;
with --task-data they fine-tune on your own labelled CSV/TSV/JSONL files (--text-column, --label-column).

Examples:
  wellread quickstart
  wellread quickstart --out runs/qs2 --steps 3000
  wellread quickstart --data ../shared/data/corpus --task-data train=reviews.csv dev=held_out.csv \\
      --text-column review --label-column stars
  wellread quickstart --print-recipe > my_recipe.yaml && wellread run my_recipe.yaml
"""

from __future__ import annotations

import argparse
from importlib import resources
from typing import Any

import yaml

FILL_MASK_EXAMPLES = ["returns a copy [MASK] the input array.", "the [MASK] of the array is returned."]
CLASSIFY_EXAMPLES = ["Draw the bars of a histogram with a different color for each group.",
                     "Return the shortest path between two nodes of the graph.",
                     "Simplify the symbolic expression and solve the equation for x.",
                     "Fit a random forest and report the cross-validation score.",
                     "Backpropagate the loss through the network and update the weights with the optimizer."]


def recipe_text() -> str:
    """The embedded quickstart recipe."""
    return resources.files("wellread.recipe").joinpath("quickstart.yaml").read_text(encoding="utf-8")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="work folder (default runs/quickstart)")
    p.add_argument("--data", nargs="+", default=None, metavar="PATH",
                   help="pretrain on these files/folders instead of the packages' documentation")
    p.add_argument("--task-data", nargs="+", default=None, metavar="ITEM",
                   help="fine-tune on this labelled data (a folder or SPLIT=FILE items) instead of the topic task")
    p.add_argument("--text-column", default=None, help="with --task-data: the text column (default text)")
    p.add_argument("--label-column", default=None, help="with --task-data: the label column (default label)")
    p.add_argument("--steps", type=int, default=None, help="pretraining steps (default: the recipe's 800)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice; 1 when other work holds the other cores)")
    p.add_argument("--print-recipe", action="store_true", help="print the recipe (YAML) and exit")


def customised(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe as data, with the command's options applied."""
    data = yaml.safe_load(recipe_text())
    stages = {s.get("name", s["stage"]): s for s in data["stages"]}
    if args.out:
        data["out"] = args.out
    if args.data:
        stages["corpus"]["inputs"] = args.data
        data["model_name"] = "wellread-tiny"
        data["description"] = (f"A BERT-Tiny (2 layers, 128 wide) pretrained from scratch on {', '.join(args.data)} "
                               "by wellread's quickstart recipe.")
    if args.task_data:
        stages["topics"]["data"] = args.task_data
        stages["card"].pop("intended_uses")
        stages["card"].pop("limitations")
    for column in ("text_column", "label_column"):
        if getattr(args, column):
            stages["topics"][column] = getattr(args, column)
    if args.data and args.task_data:
        data["stages"] = [s for s in data["stages"] if s["stage"] != "package-docs"]
    if args.steps:
        stages["pretrain"]["phases"] = [f"128:{args.steps}"]
    if args.threads:
        data["threads"] = args.threads
    return data


def demo(records: list, classify: bool = True) -> None:
    """What `wellread fill-mask` answers with the pretrained model and (`classify`) what `wellread classify`
    answers with the fine-tuned one, through the same inference pipelines."""
    from wellread.infer import load_pipeline

    by_name = {r.name: r for r in records}
    folder = by_name["pretrain"].outputs["model"]
    fill = load_pipeline(folder, "fill-mask", top_k=3)
    print(f"\nwellread fill-mask --model {folder} TEXT ...")
    for text, out in zip(FILL_MASK_EXAMPLES, fill(FILL_MASK_EXAMPLES), strict=True):
        top = out["predictions"][0]  # the first [MASK]'s candidates
        print(f"  {text:<42} -> " + ", ".join(f"{p['token']} ({p['score']:.2f})" for p in top))
    if not classify:
        return
    folder = by_name["topics"].outputs["finetuned"]
    print(f"\nwellread classify --model {folder} TEXT ...")
    for text, out in zip(CLASSIFY_EXAMPLES, load_pipeline(folder, "classify")(CLASSIFY_EXAMPLES), strict=True):
        print(f"  {text[:72]:<72} -> {out['label']} ({out['score']:.2f})")


def run(args: argparse.Namespace) -> int:
    from wellread.recipe.report import print_outcome
    from wellread.recipe.runner import Runner
    from wellread.recipe.schema import parse_recipe
    from wellread.recipe.stages import option_types

    text = yaml.safe_dump(customised(args), sort_keys=False) if _customised(args) else recipe_text()
    if args.print_recipe:
        print(text, end="")
        return 0
    recipe = parse_recipe(text, option_types(), "quickstart.yaml")
    records = Runner(recipe).run()
    print_outcome(records)
    demo(records, classify=not args.task_data)
    return 0


def _customised(args: argparse.Namespace) -> bool:
    return any((args.out, args.data, args.task_data, args.text_column, args.label_column, args.steps, args.threads))
