"""The tokenizer, pack and pretrain stages take their commands' options: the keys a recipe gains from the command
(special tokens, model max length, a pack stage's own vocabulary, length grouping) take effect."""

from __future__ import annotations

from pathlib import Path

import pytest

from wellread.corpus.pack import PackedSequences
from wellread.recipe.base import StageContext
from wellread.recipe.runner import plan, stage_key
from wellread.recipe.schema import RecipeError, parse_recipe
from wellread.recipe.stages import STAGES, option_types
from wellread.tokenizer import Tokenizer

WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "ran", "far", "away", "over", "the", "river", "near", "the",
         "small", "house"]


def write_corpus(folder: Path) -> Path:
    """Fifty blank-line separated documents of three sentences each."""
    docs = [" ".join(" ".join(WORDS[(d + s + i) % len(WORDS)] for i in range(8)).capitalize() + "."
                     for s in range(3)) for d in range(50)]
    path = folder / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def stage(text: str, tmp_path: Path, index: int = 0):
    recipe = parse_recipe(f"name: t\nout: {tmp_path / 'work'}\nstages:\n{text}", option_types(), "r.yaml")
    return recipe, recipe.stages[index]


def run(recipe, spec, out: Path, inputs: dict):
    return STAGES[spec.type].run(spec.options, StageContext(spec.name, out, inputs, False, [], recipe))


def test_tokenizer_stage_takes_the_command_options(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    recipe, spec = stage(f"  - stage: tokenizer\n    corpus: {corpus}\n    vocab_size: 120\n    min_frequency: 1\n"
                         "    special_tokens: ['[X]']\n    model_max_length: 64\n    lowercase: false\n", tmp_path)
    run(recipe, spec, tmp_path / "tok", {"corpus": spec.options.corpus})
    tok = Tokenizer.load(tmp_path / "tok")
    assert tok.vocab["[X]"] == 1 and tok.pad_token_id == 0  # the given specials first, after [PAD]
    assert tok.model_max_length == 64 and tok.lowercase is False and tok.vocab_size <= 120


def test_pack_stage_trains_its_own_vocabulary_without_a_tokenizer_stage(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path)
    text = (f"  - stage: corpus\n    inputs: {corpus}\n  - stage: pack\n    vocab_size: 120\n    min_frequency: 1\n"
            "    max_length: 32\n  - stage: pretrain\n    length_grouping: false\n")
    recipe, spec = stage(text, tmp_path, 1)
    planned = plan(recipe)
    assert planned[1].inputs == [("corpus", None, "corpus")]  # no tokenizer input needed
    assert planned[2].inputs == [("data", None, "pack")] and planned[2].spec.options.length_grouping is False
    result = run(recipe, spec, tmp_path / "packed", {"corpus": str(corpus)})
    assert result.outputs == {"packed": str(tmp_path / "packed")}
    assert Tokenizer.load(tmp_path / "packed" / "tokenizer").vocab_size <= 120
    assert len(PackedSequences(tmp_path / "packed" / "len32" / "train")) > 0
    with pytest.raises(RecipeError, match=r"r\.yaml:7: stages\[1\]\.vocab_size: give an existing tokenizer or a "
                                          r"vocab_size to train one, not both"):
        stage(text.replace("max_length: 32", "max_length: 32\n    tokenizer: tok/"), tmp_path)


def test_an_explicit_pretrain_data_folder_is_fingerprinted(tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "index.json").write_text("{}")
    _, spec = stage(f"  - stage: pretrain\n    data: {packed}\n", tmp_path)
    before = stage_key(spec, None)
    (packed / "index.json").write_text('{"sequences": 1}')  # new data: the stage runs again
    assert stage_key(spec, None) != before
