"""The evolutionary length search (frontier, choice, operators, reproducibility) and the cost measures."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import tiny_config

from wellread.config import BertConfig
from wellread.dynamic.cost import encoder_flops, latency_batches, layer_flops, measure_latency, paired_latency
from wellread.dynamic.search import (
    Candidate,
    Evolution,
    Measurement,
    choose,
    crossover,
    effective,
    evolve,
    gene_config,
    initial_population,
    mutate,
    neighbours,
    pareto_front,
    refine,
)
from wellread.errors import WellreadError
from wellread.models import build_model
from wellread.models.length import LengthConfig


def candidate(cost: float, metric: float, gene: tuple[int, ...] = (1,)) -> Candidate:
    return Candidate(gene, Measurement(cost, metric, cost), 0)


def test_pareto_front_and_choice() -> None:
    cands = [candidate(10, 90), candidate(5, 89.5), candidate(6, 89.0), candidate(3, 85), candidate(5, 88),
             candidate(2, 70)]
    front = pareto_front(cands)
    assert [(c.cost, c.metric) for c in front] == [(2, 70), (3, 85), (5, 89.5), (10, 90)]
    assert choose(front, 90, 1.0).cost == 5  # fastest within 1 point
    assert choose(front, 90, 0.0).cost == 10
    assert choose(front, 90, 20.0).cost == 2
    with pytest.raises(WellreadError, match="within"):
        choose([candidate(1, 50)], 90, 1.0)


def test_operators_keep_genes_non_increasing_and_on_the_grid() -> None:
    rng = random.Random(0)
    options = Evolution(population=12, grid=20)
    genes = initial_population(6, options, rng)
    assert genes[0] == (20,) * 6 and len(set(genes)) == len(genes)
    costs = [sum(g) for g in genes]
    assert min(costs) < 0.6 * costs[0]  # the population spreads over cost
    for _ in range(500):
        a, b = rng.sample(genes, 2)
        for child in (mutate(a, 20, 0.5, rng), crossover(a, b, 20)):
            assert all(1 <= x <= 20 for x in child)
            assert all(x >= y for x, y in zip(child, child[1:], strict=False))
    assert crossover((20, 10, 3), (19, 10, 2), 20) == (20, 10, 3)  # the mean, rounded up


def test_operators_with_layer_skipping() -> None:
    rng = random.Random(1)
    options = Evolution(population=8, grid=20, layer_skip=True)
    genes = initial_population(4, options, rng)
    assert {(0, 20, 20, 20), (20, 20, 0, 20), (20, 20, 20, 0)} <= set(genes)  # the full model without each layer
    assert gene_config((20, 0, 10, 0), 20) == LengthConfig((1.0, 1.0, 0.5, 0.5), skip=(1, 3))
    assert effective((0, 12, 0, 5), 20) == (20, 12, 12, 5)
    assert crossover((20, 0, 10), (10, 0, 4), 20) == (15, 0, 7)  # both skip layer 1: the child does too
    assert crossover((20, 0, 10), (10, 6, 4), 20) == (15, 13, 7)  # a skipped layer counts at the previous share
    children = set()
    for _ in range(2000):
        a, b = rng.sample(genes, 2)
        for child in (mutate(a, 20, 0.5, rng, layer_skip=True), crossover(a, b, 20)):
            run = [x for x in child if x]
            assert run and all(1 <= x <= 20 for x in run)
            assert all(x >= y for x, y in zip(run, run[1:], strict=False))  # the run layers stay non-increasing
            gene_config(child, 20)  # a valid configuration
            children.add(child)
        genes.append(child)
    assert any(0 in c for c in children) and any(sum(1 for x in c if x == 0) >= 2 for c in children)
    assert all(0 not in mutate(g, 20, 1.0, rng) for g in genes if 0 not in g)  # no skipping unless asked for


def synthetic(gene: tuple[int, ...]) -> Measurement:
    """A deterministic cost and a metric that falls off when early layers drop too much."""
    cost = float(sum(gene))
    metric = 90.0 - sum(max(0, 14 - g) * (len(gene) - i) for i, g in enumerate(gene)) * 0.1
    return Measurement(cost, metric, cost)


def test_search_is_reproducible_with_a_seed_and_improves_the_frontier() -> None:
    options = Evolution(iterations=6, population=8, mutations=4, crossovers=4, seed=3)
    first = evolve(synthetic, 4, options, progress=False)
    again = evolve(synthetic, 4, options, progress=False)
    other = evolve(synthetic, 4, Evolution(iterations=6, population=8, mutations=4, crossovers=4, seed=4),
                   progress=False)
    assert [c.gene for c in first] == [c.gene for c in again]
    assert [c.gene for c in first] != [c.gene for c in other]
    assert len({c.gene for c in first}) == len(first) and first[0].gene == (20,) * 4
    assert max(c.iteration for c in first) == 6
    initial = [c for c in first if c.iteration == 0]
    best_initial = choose(initial, first[0].metric, 1.0)
    assert choose(first, first[0].metric, 1.0).cost <= best_initial.cost


def test_a_search_can_start_from_given_genes() -> None:
    start = ((20, 0, 7, 4), (10, 10, 0, 1))
    options = Evolution(iterations=0, population=3, layer_skip=True, start=start)
    genes = initial_population(4, options, random.Random(0))
    assert genes[0] == (20,) * 4 and list(start) == genes[-2:]
    assert [c.gene for c in evolve(synthetic, 4, options, progress=False)] == genes
    for bad, layer_skip in (((20, 0, 7), True), ((20, 7, 9, 4), True), ((20, 21, 7, 4), True), ((0, 0, 0, 0), True),
                            ((20, 0, 7, 4), False)):
        with pytest.raises(WellreadError, match="does not fit"):
            initial_population(4, Evolution(population=2, layer_skip=layer_skip, start=(bad,)),
                               random.Random(0))


def test_refining_neighbours_are_valid_configurations() -> None:
    near = neighbours((20, 0, 10, 5), 20, layer_skip=True)
    assert near[:3] == [(0, 0, 10, 5), (20, 0, 0, 5), (20, 0, 10, 0)]  # each run layer skipped
    assert {(19, 0, 10, 5), (20, 0, 9, 5), (20, 0, 10, 4), (15, 0, 10, 5), (20, 0, 8, 5), (20, 0, 10, 3)} <= set(near)
    assert near[-2:] == [(0, 20, 10, 5), (20, 10, 0, 5)]  # a skipped layer swapped with a run one beside it
    assert neighbours((12, 10, 10), 20) == [(11, 10, 10), (12, 9, 9), (12, 10, 9), (9, 9, 9), (12, 8, 8), (12, 10, 8)]
    assert neighbours((1, 1), 20) == [] and neighbours((1, 0), 20, layer_skip=True) == [(0, 1)]
    for gene in near:
        gene_config(gene, 20)  # a valid configuration


def test_refine_walks_to_a_cheaper_choice_within_the_budget() -> None:
    options = Evolution(iterations=2, population=6, mutations=3, crossovers=3, seed=0)
    evolved = evolve(synthetic, 4, options, progress=False)
    before = choose(evolved, evolved[0].metric, 1.0)
    refined = refine(synthetic, evolved, replace(options, refine=60), 1.0, progress=False)
    after = choose(refined, evolved[0].metric, 1.0)
    assert refined[:len(evolved)] == evolved and len(refined) <= len(evolved) + 60
    assert len({c.gene for c in refined}) == len(refined)
    assert after.cost < before.cost and after.metric >= evolved[0].metric - 1.0
    assert min(c.iteration for c in refined[len(evolved):]) == 3  # numbered after the evolution's iterations
    # it stopped because no neighbour of the choice is cheaper within the budget, not for want of evaluations
    if len(refined) < len(evolved) + 60:
        for gene in neighbours(after.gene, 20):
            m = synthetic(gene)
            assert m.cost >= after.cost or m.metric < evolved[0].metric - 1.0
    assert [c.gene for c in refine(synthetic, evolved, replace(options, refine=60), 1.0, progress=False)] == [
        c.gene for c in refined]  # reproducible
    few = refine(synthetic, evolved, replace(options, refine=5), 1.0, progress=False)
    assert len(few) == len(evolved) + 5
    assert refine(synthetic, evolved, options, 1.0, progress=False) == evolved  # refine=0: nothing more
    assert refine(synthetic, evolved, replace(options, refine=9), -50.0, progress=False) == evolved  # none within


def test_flops_follow_the_kept_lengths() -> None:
    config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    n = torch.tensor([10])
    full = encoder_flops(config, LengthConfig.full(2), [10])
    assert full == pytest.approx(2 * float(layer_flops(config, n, n)[0]))
    assert full == pytest.approx(2 * 2 * (4 * 64 * 64 * 10 + 2 * 64 * 100 + 2 * 64 * 128 * 10))
    # a dropping layer: q/k/v and scores over all 10 tokens; context, output projection and FFN for the 5 kept
    assert float(layer_flops(config, n, torch.tensor([5]))[0]) == pytest.approx(
        2 * (3 * 64 * 64 * 10 + 64 * 100 + 64 * 5 * 10 + 64 * 64 * 5 + 2 * 64 * 128 * 5))
    half = encoder_flops(config, LengthConfig((0.5, 0.5), min_tokens=1), [10])
    expected = layer_flops(config, n, torch.tensor([5])) + layer_flops(config, torch.tensor([5]), torch.tensor([5]))
    assert half == pytest.approx(float(expected[0]))
    assert encoder_flops(config, LengthConfig.full(2), [10, 20]) > full
    assert encoder_flops(config, LengthConfig((1.0, 1.0), skip=(0,)), [10]) == pytest.approx(full / 2)


def test_latency_batches_and_measurement() -> None:
    rng = np.random.default_rng(0)
    ids = [rng.integers(1, 100, size=n) for n in rng.integers(3, 40, size=50)]
    types = [np.zeros_like(r) for r in ids]
    batches = latency_batches(ids, types, 0, 8, limit=20)
    assert sum(len(b["input_ids"]) for b in batches) == 20
    for b in batches:  # dynamic padding: each batch padded to its own longest
        assert b["attention_mask"].sum(1).max() == b["input_ids"].shape[1]
    lengths = sorted(int(b["attention_mask"].sum(1).max()) for b in batches)
    assert lengths[0] < lengths[-1]  # spread over the length range
    torch.manual_seed(0)
    model = build_model(tiny_config(101, heads=4, intermediate=48, max_positions=64), "sequence-classification")
    seconds = measure_latency(model, batches, LengthConfig((0.5, 0.3)), repeats=2)
    assert 0 < seconds < 10
    calls = []
    forward = model.forward

    def counted(*inputs: torch.Tensor, length_config: LengthConfig | None = None):
        calls.append(length_config)
        return forward(*inputs, length_config=length_config)

    model.forward = counted
    short, full = paired_latency(model, batches, LengthConfig((0.5, 0.3)), repeats=2)
    assert 0 < short < 10 and 0 < full < 10
    assert len(calls) == 2 + 2 * 2 * len(batches)  # a warm-up of each, then both alternately per batch and repeat
    model.length_config = LengthConfig((0.2, 0.2))  # a saved configuration must not become the reference
    calls.clear()
    paired_latency(model, batches, LengthConfig((0.5, 0.3)), repeats=2)
    assert calls[2::2] == [LengthConfig((0.5, 0.3))] * 2 * len(batches)
    assert calls[3::2] == [LengthConfig.full(2)] * 2 * len(batches)
