"""Recipe validation: every problem names its field path and line; overrides, variables, the shipped recipes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wellread.recipe.runner import plan
from wellread.recipe.schema import RecipeError, load_recipe, parse_overrides, parse_recipe
from wellread.recipe.stages import option_types

ROOT = Path(__file__).resolve().parents[1]

GOOD = """\
name: demo
out: runs/demo
stages:
  - stage: corpus
    inputs: [texts/]
    snapshot_date: 2026-11-01
  - stage: tokenizer
    vocab_size: 4000
  - stage: pack
  - stage: pretrain
    phases: ["128:50"]
    lr: 1
  - stage: finetune
    name: sst2
    task: sst2
    data: glue/SST-2
"""


def parse(text: str, overrides: dict | None = None):
    return parse_recipe(text, option_types(), "r.yaml", overrides)


def error_of(text: str) -> str:
    with pytest.raises(RecipeError) as info:
        plan(parse(text))
    return str(info.value)


def test_a_valid_recipe_becomes_typed_options():
    recipe = parse(GOOD)
    assert [s.name for s in recipe.stages] == ["corpus", "tokenizer", "pack", "pretrain", "sst2"]
    corpus, tokenizer, _, pretrain, sst2 = (s.options for s in recipe.stages)
    assert corpus.snapshot_date == "2026-11-01"  # a YAML date is read back as the string written
    assert tokenizer.vocab_size == 4000 and pretrain.lr == 1.0 and isinstance(pretrain.lr, float)
    assert sst2.data == ["glue/SST-2"] and sst2.model is None  # a lone value is a one-item list
    assert recipe.stages[4].line == 13
    planned = plan(recipe)
    assert planned[4].inputs == [("model", None, "pretrain"), ("data", ["glue/SST-2"], None)]


def test_unknown_field_is_named_with_its_line_and_a_suggestion():
    message = error_of(GOOD.replace("vocab_size: 4000", "vocab_sise: 4000"))
    assert "r.yaml:8: stages[1].vocab_sise: unknown field (did you mean 'vocab_size'?)" in message


def test_wrong_types_missing_fields_and_bad_choices_are_all_reported():
    text = GOOD.replace("lr: 1", "lr: fast\n    optimizer: sgd").replace("    task: sst2\n", "")
    message = error_of(text)
    assert "r.yaml:12: stages[3].lr: expected float, got 'fast'" in message
    assert "r.yaml:13: stages[3].optimizer: must be one of adamw, lamb, got 'sgd'" in message
    assert "stages[4].task: is required" in message


def test_range_checks_name_the_field():
    message = error_of(GOOD.replace('"128:50"', '"128"'))
    assert "r.yaml:11: stages[3].phases: '128': expected LENGTH:STEPS, e.g. 128:1000" in message


def test_search_stage_refine_must_not_be_negative():
    search = "  - stage: search\n    skip_layers: true\n    refine: -1\n"
    assert "refine: must be >= 0, got -1" in error_of(GOOD + search)
    assert parse(GOOD + search.replace("-1", "40")).stages[-1].options.refine == 40


def test_unknown_stage_type_and_duplicate_names():
    message = error_of(GOOD.replace("stage: pack", "stage: packk").replace("name: sst2", "name: corpus"))
    assert "stages[2].stage: unknown stage type 'packk'; did you mean 'pack'?" in message
    assert "stages[4].name: stage name 'corpus' is used twice" in message


def test_a_stage_name_must_be_a_folder_name():
    assert "stages[4].name: '../x': a stage name is its folder's name" in error_of(GOOD.replace("name: sst2",
                                                                                               "name: ../x"))


def test_top_level_problems_and_bad_yaml():
    assert "(top level)" in error_of("- just a list")
    assert "out: is required" in error_of("name: x\nstages:\n  - stage: card\n")
    message = error_of("name: x\nout: y\nstages:\n  - stage: [card\n")
    assert message.startswith("r.yaml:") and "not valid YAML" in message


def test_an_input_nothing_provides_names_the_stage_and_option():
    text = "name: x\nout: y\nstages:\n  - stage: corpus\n    inputs: a/\n  - stage: pack\n"
    message = error_of(text)
    assert "r.yaml:6: stages[1] (pack): needs a tokenizer input" in message and "set `tokenizer`" in message


def test_overrides_and_environment_variables(monkeypatch):
    monkeypatch.setenv("WR_DATA", "/data")
    text = GOOD.replace("inputs: [texts/]", "inputs: ['${WR_DATA}/corpus', '${WR_MISSING:-x}/y']")
    recipe = parse(text, parse_overrides(["out=elsewhere", "pretrain.batch_size=64", "sst2.lr=3e-5", "threads=1"]))
    assert recipe.threads == 1
    assert recipe.stages[0].options.inputs == ["/data/corpus", "x/y"]
    assert str(recipe.out) == "elsewhere" and recipe.stages[3].options.batch_size == 64
    assert recipe.stages[4].options.lr == 3e-5
    with pytest.raises(RecipeError, match="WR_UNSET is not set"):
        parse(GOOD.replace("texts/", "'${WR_UNSET}'"))
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        parse_overrides(["pretrain.lr"])


SHIPPED_RECIPES = [*sorted((ROOT / "recipes").glob("*.yaml")), ROOT / "src/wellread/recipe/quickstart.yaml"]


@pytest.mark.parametrize("path", SHIPPED_RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_is_valid(path):
    assert plan(load_recipe(path, option_types()))


def test_run_help_names_every_stage_type():
    import wellread.commands.run as run_command

    listed = run_command.__doc__.split("Stage types and their options:")[1].split("(see")[0]
    assert {name.strip() for name in listed.replace("\n", " ").split(",")} == set(option_types())


def test_quickstart_options_rewrite_the_embedded_recipe():
    import argparse

    from wellread.commands import quickstart

    parser = argparse.ArgumentParser()
    quickstart.add_arguments(parser)
    args = parser.parse_args(["--data", "texts/", "--task-data", "train=a.csv", "dev=b.csv", "--label-column",
                              "stars", "--steps", "50", "--out", "elsewhere"])
    recipe = parse_recipe(yaml.safe_dump(quickstart.customised(args)), option_types())
    stages = {s.name: s.options for s in recipe.stages}
    assert "package-docs" not in stages and str(recipe.out) == "elsewhere"
    assert stages["corpus"].inputs == ["texts/"] and stages["pretrain"].phases == ["128:50"]
    assert stages["topics"].data == ["train=a.csv", "dev=b.csv"] and stages["topics"].label_column == "stars"
    assert "texts/" in recipe.description


def test_the_run_command_checks_a_recipe_and_names_bad_fields(tmp_path, capsys):
    from wellread.cli import main

    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("vocab_size: 4000", "vocab_size: many"))
    assert main(["run", str(good), "--check", "--set", "pretrain.batch_size=8"]) == 0
    out = capsys.readouterr().out
    assert "[5] sst2 (finetune): model from pretrain, data from ['glue/SST-2']" in out and "valid, 5 stages" in out
    assert main(["run", str(bad), "--check"]) == 2
    assert f"{bad}:8: stages[1].vocab_size: expected int, got 'many'" in capsys.readouterr().err
