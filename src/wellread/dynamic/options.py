"""The options of `wellread lengthdrop` and `wellread search` (CLI and recipe stages, declared once)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wellread.dynamic.search import Evolution
from wellread.dynamic.train import Sandwich
from wellread.finetune.options import (
    ModelOptions,
    PrecisionOptions,
    SubsetOptions,
    TaskDataOptions,
    TrainingOptions,
)
from wellread.models.length import MIN_TOKENS
from wellread.options import option, positive

LENGTHDROP = "LengthDrop"
COST = "cost"
EVOLUTION = "evolution"
_EVOLUTION = Evolution()


@dataclass(kw_only=True)
class LengthDropOptions(TrainingOptions, PrecisionOptions, SubsetOptions, TaskDataOptions, ModelOptions):
    """`wellread lengthdrop`: continue training a fine-tuned model with LengthDrop's sandwich rule."""

    model: str | None = option(None, cli_required=True, help="the fine-tuned model folder (a recipe: default the "
                                                             "previous fine-tune or distill stage's)")
    epochs: float | None = option(None, help="passes over the training data (default 1)")
    lr: float = option(5e-5, help="peak learning rate")
    length_drop_prob: float = option(0.2, group=LENGTHDROP, metavar="P",
                                     help="each layer keeps between 1-P and all of the previous layer's tokens "
                                          "(default 0.2, as the Length-Adaptive Transformer; 0.3 trained the "
                                          "sub-models that reached 2x on SST-2 in docs/results.md)")
    sub_models: int = option(2, group=LENGTHDROP,
                             help="random sub-models per step, besides the full and the smallest")
    layerdrop: float = option(0.0, group=LENGTHDROP, metavar="P",
                              help="random sub-models skip each layer with probability P (default 0: off)")
    smallest_skip: list[int] = option([], group=LENGTHDROP, metavar="I",
                                      help="layers (from 0) the smallest sub-model skips as well as dropping tokens "
                                           "(default: none)")
    min_tokens: int = option(MIN_TOKENS, group=LENGTHDROP, help="no layer keeps fewer tokens than this")

    def sandwich(self) -> Sandwich:
        """The sandwich rule's settings (validated there)."""
        return Sandwich(self.length_drop_prob, self.sub_models, self.layerdrop, self.min_tokens,
                        tuple(self.smallest_skip))


@dataclass(kw_only=True)
class SearchOptions(SubsetOptions, TaskDataOptions, ModelOptions):
    """`wellread search`: the fastest length configuration within a metric budget."""

    model: str | None = option(None, cli_required=True, help="fine-tuned model folder (the configuration is saved "
                                                             "into it; a recipe: default the latest task model)")
    task: str | None = option(None, cli_required=True, help="task name (a recipe: default the task model's)")
    select_metric: str | None = option(None, help="the dev metric (default: the task's main metric)")
    out: Path | None = option(None, help="folder for frontier.json and .png (default MODEL/search)")
    save: bool = option(True, help="do not write length_config.json into the model folder")
    progress: bool = option(True, help="no progress bar")
    cost: str = option("latency", group=COST, choices=("latency", "flops"), help="what the search minimises")
    batch_size: int = option(32, group=COST, help="inputs per latency batch: the batch size you will serve")
    eval_batch_size: int = option(64, group=COST, help="inputs per batch when scoring the dev metric (it does not "
                                                       "depend on the batch: each input keeps its own share of its "
                                                       "real tokens; default 64)")
    repeats: int = option(3, group=COST, help="timed runs per batch; the fastest counts")
    latency_examples: int | None = option(None, group=COST, metavar="N",
                                          help="time N dev inputs spread over the length range (default: all)")
    threads: int = option(1, group=COST, help="CPU threads for torch (default 1: steadier timings)")
    max_drop: float = option(1.0, group=COST, help="the chosen configuration may lose at most this many metric points")
    iterations: int = option(_EVOLUTION.iterations, group=EVOLUTION, help="rounds of mutation and crossover")
    population: int = option(_EVOLUTION.population, group=EVOLUTION, help="initial population")
    mutations: int = option(_EVOLUTION.mutations, group=EVOLUTION, help="mutated children per iteration")
    crossovers: int = option(_EVOLUTION.crossovers, group=EVOLUTION, help="crossover children per iteration")
    grid: int = option(_EVOLUTION.grid, group=EVOLUTION, help="keep shares are multiples of 1/GRID")
    skip_layers: bool = option(False, group=EVOLUTION, help="also search over skipping whole layers (for models "
                                                            "trained with lengthdrop --layerdrop)")
    seed: int = option(0, group=EVOLUTION, help="random seed of the evolution")
    refine: int = option(_EVOLUTION.refine, group=EVOLUTION, metavar="N",
                         help="after the evolution, up to N more evaluations hill-climbing from the choice (each run "
                              "layer keeping fewer tokens; with --skip-layers also skipped, or a skipped layer "
                              "swapped with its neighbour) while that finds a cheaper configuration within --max-drop "
                              f"(default {_EVOLUTION.refine})")
    start_from: Path | None = option(None, group=EVOLUTION, metavar="FRONTIER_JSON",
                                     help="continue an earlier search: the configurations on its frontier (its "
                                          "frontier.json) join the initial population and are measured again")

    def evolution(self, start: tuple = ()) -> Evolution:
        """The evolution's settings, with extra starting genes."""
        return Evolution(iterations=self.iterations, population=self.population, mutations=self.mutations,
                         crossovers=self.crossovers, grid=self.grid, layer_skip=self.skip_layers, seed=self.seed,
                         refine=self.refine, start=start)

    def check(self) -> list[tuple[str, str]]:
        negative = [("refine", f"must be >= 0, got {self.refine}")] if self.refine < 0 else []
        return positive(self, "batch_size", "eval_batch_size", "repeats", "threads", "population") + negative
