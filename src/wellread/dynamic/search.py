"""Evolutionary search for length configurations (Length-Adaptive Transformer, Kim & Cho 2021).

A gene is a tuple of per-layer keep shares in grid units (`grid` = all tokens; gene / grid is a `LengthConfig`),
non-increasing over its non-zero entries; 0 marks a skipped layer (only with `layer_skip`, for models trained
with LayerDrop). The initial population spreads over cost: the full model plus genes whose layers drop up to
an increasing share of the previous layer's tokens (with `layer_skip`, also the full model without each one
layer). Each iteration takes the Pareto frontier of everything evaluated so far (lower cost, higher metric) as
parents and adds `mutations` children (each layer resampled with probability `mutation_prob` between its
neighbours, or with `layer_skip` skipped or run again) and `crossovers` children (the rounded-up mean of two
parents; a layer both skip stays skipped). A gene is evaluated once. The random choices come from `seed`
alone, so with a deterministic cost (FLOPs) the search is reproducible; with measured latency the cost carries
the machine's noise.

`refine` then hill-climbs from the choice (the cheapest configuration within the metric budget): each round
evaluates the choice's unseen neighbours (each run layer keeping fewer tokens, with layer skipping each run
layer skipped or a skipped layer swapped with the run layer beside it) and moves to the new choice, until a
round finds nothing cheaper within the budget or its evaluations are spent. Evolution spreads its evaluations
over the whole frontier; the user keeps one point of it, next to the budget line, and that is where refining
spends them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass

from tqdm import tqdm

from wellread.errors import WellreadError
from wellread.models.length import MIN_TOKENS, LengthConfig

Gene = tuple[int, ...]


SKIP_PROB = 0.25
"""With layer skipping, the chance that a resampled layer is skipped (a skipped one is always run again)."""


def gene_config(gene: Gene, grid: int, min_tokens: int = MIN_TOKENS) -> LengthConfig:
    """The length configuration a gene stands for: keep[i] = gene[i] / grid, layer i skipped where gene[i] = 0."""
    return LengthConfig.build([g / grid if g else None for g in gene], min_tokens)


def effective(gene: Gene, grid: int) -> Gene:
    """Each layer's keep share in grid units, a skipped layer's being the previous layer's."""
    out, previous = [], grid
    for g in gene:
        previous = g or previous
        out.append(previous)
    return tuple(out)


@dataclass(frozen=True)
class Measurement:
    """What evaluating a gene gives: the cost the search minimises, the dev metric and both cost figures."""

    cost: float
    metric: float
    flops: float
    """Mean encoder FLOPs per input."""
    latency: float | None = None
    """Seconds for one pass over the latency batches (None when not measured): the full model's, scaled by this
    configuration's ratio to it measured batch by batch (`wellread.dynamic.cost.paired_latency`)."""


@dataclass(frozen=True)
class Candidate:
    gene: Gene
    measurement: Measurement
    iteration: int
    """0: the initial population."""

    @property
    def cost(self) -> float:
        return self.measurement.cost

    @property
    def metric(self) -> float:
        return self.measurement.metric

    def config(self, grid: int, min_tokens: int = MIN_TOKENS) -> LengthConfig:
        return gene_config(self.gene, grid, min_tokens)

    def to_json(self, grid: int) -> dict:
        skip = [i for i, g in enumerate(self.gene) if g == 0]
        return {"keep": [round(g / grid, 6) for g in effective(self.gene, grid)], "skip": skip,
                "gene": list(self.gene), "iteration": self.iteration, **asdict(self.measurement)}


@dataclass(frozen=True)
class Evolution:
    """The evolutionary search's sizes; LAT used about 30 iterations."""

    iterations: int = 30
    population: int = 16
    """Initial population, the full model included."""
    mutations: int = 8
    """Mutated children per iteration."""
    crossovers: int = 8
    """Crossover children per iteration."""
    mutation_prob: float = 0.5
    grid: int = 20
    """Keep shares are multiples of 1/grid."""
    init_max_drop: float = 0.5
    """The initial population's most aggressive genes drop up to this share of the tokens per layer."""
    layer_skip: bool = False
    """Also search over skipping whole layers (for models trained with LayerDrop)."""
    seed: int = 0
    start: tuple[Gene, ...] = ()
    """Genes added to the initial population, e.g. an earlier search's frontier (`frontier_genes`), so that a
    search continues from where another stopped."""
    refine: int = 0
    """Evaluations at most for refining the choice after the evolution (`refine`); 0: none."""

    def __post_init__(self) -> None:
        if min(self.iterations, self.mutations, self.crossovers, self.refine) < 0 or self.population < 1:
            raise WellreadError("iterations, mutations, crossovers and refine must be >= 0 and the population >= 1")
        if self.grid < 2:
            raise WellreadError(f"the grid must have at least 2 steps; got {self.grid}")
        if not 0.0 <= self.mutation_prob <= 1.0 or not 0.0 < self.init_max_drop < 1.0:
            raise WellreadError("mutation_prob must be in [0, 1] and init_max_drop in (0, 1)")


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates no other beats on both cost (lower) and metric (higher), cheapest first."""
    front: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.cost, -c.metric)):
        if not front or c.metric > front[-1].metric:
            front.append(c)
    return front


def choose(candidates: list[Candidate], baseline: float, max_drop: float) -> Candidate:
    """The cheapest candidate whose metric is at most `max_drop` points below `baseline` (best metric on ties)."""
    ok = [c for c in candidates if c.metric >= baseline - max_drop]
    if not ok:
        raise WellreadError(f"no configuration is within {max_drop} points of {baseline:.2f}")
    return min(ok, key=lambda c: (c.cost, -c.metric))


def initial_population(layers: int, options: Evolution, rng: random.Random) -> list[Gene]:
    """The full model, then genes whose per-layer drops reach up to init_max_drop * k / (population - 1)."""
    grid = options.grid
    genes = [(grid,) * layers]
    for k in range(1, options.population):
        drop = options.init_max_drop * k / max(1, options.population - 1)
        gene, previous = [], grid
        for _ in range(layers):
            previous = rng.randint(max(1, math.ceil((1 - drop) * previous)), previous)
            gene.append(previous)
        genes.append(tuple(gene))
    if options.layer_skip and layers > 1:
        genes += [tuple(0 if i == j else grid for i in range(layers)) for j in range(layers)]
    for gene in options.start:
        check_gene(gene, layers, grid, options.layer_skip)
    return list(dict.fromkeys(genes + [tuple(g) for g in options.start]))


def check_gene(gene: Gene, layers: int, grid: int, layer_skip: bool) -> None:
    """A gene fits the search: one entry per layer in 0..grid, run layers non-increasing, zeros only with
    layer skipping and never all of them."""
    run = [g for g in gene if g]
    if (len(gene) != layers or not run or any(not 0 <= g <= grid for g in gene)
            or any(b > a for a, b in zip(run, run[1:], strict=False)) or (len(run) < layers and not layer_skip)):
        raise WellreadError(f"gene {list(gene)} does not fit a search over {layers} layers on a grid of {grid}"
                            f"{'' if layer_skip else ' without layer skipping'}")


def mutate(gene: Gene, grid: int, prob: float, rng: random.Random, layer_skip: bool = False) -> Gene:
    """Each layer, with probability `prob`, resampled between its neighbours (the run layers stay
    non-increasing); with `layer_skip` a resampled layer is skipped with probability SKIP_PROB (one layer always
    runs) and a skipped one runs again."""
    out = list(gene)
    for i in range(len(out)):
        if rng.random() >= prob:
            continue
        if layer_skip and out[i] and rng.random() < SKIP_PROB and sum(1 for g in out if g) > 1:
            out[i] = 0
            continue
        high = next((g for g in reversed(out[:i]) if g), grid)
        low = next((g for g in out[i + 1:] if g), 1)
        out[i] = rng.randint(low, high)
    return tuple(out)


def crossover(a: Gene, b: Gene, grid: int) -> Gene:
    """The layer-wise mean of two parents' keep shares, rounded up (non-increasing when both are); a layer both
    parents skip stays skipped."""
    mean = [(x + y + 1) // 2 for x, y in zip(effective(a, grid), effective(b, grid), strict=True)]
    return tuple(0 if x == 0 and y == 0 else m for m, x, y in zip(mean, a, b, strict=True))


def evolve(evaluate: Callable[[Gene], Measurement], layers: int, options: Evolution,
           progress: bool = True) -> list[Candidate]:
    """Run the search; returns every evaluated candidate (the first is the full model)."""
    rng = random.Random(options.seed)
    seen: dict[Gene, Candidate] = {}
    initial = initial_population(layers, options, rng)
    total = len(initial) + options.iterations * (options.mutations + options.crossovers)
    bar = tqdm(total=total, desc="search", disable=not progress, dynamic_ncols=True)

    def add(genes: list[Gene], iteration: int) -> None:
        for gene in genes:
            seen[gene] = Candidate(gene, evaluate(gene), iteration)
            bar.update(1)
        front = pareto_front(list(seen.values()))
        bar.set_postfix(iteration=iteration, evaluated=len(seen), frontier=len(front))

    try:
        add(initial, 0)
        for iteration in range(1, options.iterations + 1):
            parents = [c.gene for c in pareto_front(list(seen.values()))]
            children: list[Gene] = []
            for k in range(options.mutations + options.crossovers):
                for _ in range(20):  # a few tries for a gene not seen yet
                    if k < options.mutations or len(parents) < 2:
                        child = mutate(rng.choice(parents), options.grid, options.mutation_prob, rng,
                                       options.layer_skip)
                    else:
                        child = crossover(*rng.sample(parents, 2), options.grid)
                    if child not in seen and child not in children:
                        children.append(child)
                        break
            bar.total -= options.mutations + options.crossovers - len(children)
            add(children, iteration)
    finally:
        bar.close()
    return list(seen.values())


def neighbours(gene: Gene, grid: int, layer_skip: bool = False) -> list[Gene]:
    """The configurations next to a gene that refining tries, most promising first: with layer skipping each run
    layer skipped (one always runs); each run layer keeping one grid step fewer, then a quarter fewer (two steps
    at least), later layers lowered with it where they would keep more; with layer skipping, each skipped layer
    swapped with a run layer beside it (the same shares in a different place)."""
    run = [i for i, g in enumerate(gene) if g]
    out: list[Gene] = []
    if layer_skip and len(run) > 1:
        out += [tuple(0 if j == i else g for j, g in enumerate(gene)) for i in run]
    for larger in (False, True):
        for i in run:
            lowered = gene[i] - (max(2, gene[i] // 4) if larger else 1)
            if lowered >= 1:
                out.append(tuple(g if j < i or not g else min(g, lowered) for j, g in enumerate(gene)))
    if layer_skip:
        for i in range(len(gene) - 1):
            if (gene[i] == 0) != (gene[i + 1] == 0):
                out.append(gene[:i] + (gene[i + 1], gene[i]) + gene[i + 2:])
    return [g for g in dict.fromkeys(out) if g != gene]


def refine(evaluate: Callable[[Gene], Measurement], candidates: list[Candidate], options: Evolution,
           max_drop: float, progress: bool = True) -> list[Candidate]:
    """Hill-climb from the cheapest candidate within `max_drop` points of the full model (`candidates[0]`), for
    at most `options.refine` evaluations; returns `candidates` with the ones evaluated here (their iteration
    numbers follow the evolution's, one per round). Unchanged when nothing is within the budget."""
    seen = {c.gene: c for c in candidates}
    baseline, budget = candidates[0].metric, options.refine
    iteration = max(c.iteration for c in candidates) + 1
    if budget == 0 or not any(c.metric >= baseline - max_drop for c in candidates):
        return candidates
    current = choose(candidates, baseline, max_drop)
    bar = tqdm(total=budget, desc="refine", disable=not progress, dynamic_ncols=True)
    try:
        while budget > 0:
            fresh = [g for g in neighbours(current.gene, options.grid, options.layer_skip) if g not in seen][:budget]
            for gene in fresh:
                seen[gene] = Candidate(gene, evaluate(gene), iteration)
                bar.update(1)
            budget -= len(fresh)
            best = choose(list(seen.values()), baseline, max_drop)
            bar.set_postfix(round=iteration, choice=list(best.gene))
            if best.gene == current.gene:
                break
            current, iteration = best, iteration + 1
    finally:
        bar.close()
    return list(seen.values())
