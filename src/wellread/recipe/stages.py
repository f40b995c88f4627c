"""The stage registry: stage type name -> what it reads, what it writes, and the library call that runs it.

Adding a stage is one `STAGES` entry: an options dataclass (its fields are the YAML keys), a `run(options,
context) -> StageResult` function, the inputs it takes from earlier stages (option field -> output kind) and
the kinds of output it produces. Output kinds: raw (text files), task (labelled data), corpus, tokenizer,
packed, model (a pretrained encoder), finetuned (a model with a task head).
"""

from __future__ import annotations

from wellread.corpus.build import BuildOptions
from wellread.corpus.pack import PackOptions
from wellread.distill.options import DistillOptions, GeneralDistillOptions
from wellread.dynamic.options import LengthDropOptions, SearchOptions
from wellread.finetune.options import FinetuneOptions
from wellread.recipe import (
    card,
    stages_data,
    stages_distill,
    stages_dynamic,
    stages_eval,
    stages_export,
    stages_train,
)
from wellread.recipe.base import StageType
from wellread.recipe.card import CardOptions
from wellread.recipe.package_docs import PackageDocsOptions
from wellread.recipe.stages_eval import EvaluateStageOptions
from wellread.recipe.stages_export import ExportStageOptions
from wellread.tokenizer import TokenizerTrainOptions
from wellread.train.pretrain import PretrainOptions


def _registry() -> dict[str, StageType]:
    return {
        "package-docs": StageType(PackageDocsOptions, stages_data.run_package_docs, {}, ("raw", "task")),
        "corpus": StageType(BuildOptions, stages_data.run_corpus, {"inputs": "raw"}, ("corpus",)),
        "tokenizer": StageType(TokenizerTrainOptions, stages_data.run_tokenizer, {"corpus": "corpus"},
                               ("tokenizer",)),
        "pack": StageType(PackOptions, stages_data.run_pack, {"corpus": "corpus", "tokenizer": "tokenizer"},
                          ("packed",), replaced_by={"tokenizer": "vocab_size"}),
        "pretrain": StageType(PretrainOptions, stages_train.run_pretrain, {"data": "packed"}, ("model",),
                              resumable=True),
        "general-distill": StageType(GeneralDistillOptions, stages_distill.run_general_distill,
                                     {"data": "corpus"}, ("model",), resumable=True),
        "finetune": StageType(FinetuneOptions, stages_train.run_finetune, {"model": "model", "data": "task"},
                              ("finetuned",), resumable=True),
        "distill": StageType(DistillOptions, stages_distill.run_distill,
                             {"teacher": "finetuned", "student": "model", "data": "task"}, ("finetuned",),
                             resumable=True),
        "lengthdrop": StageType(LengthDropOptions, stages_dynamic.run_lengthdrop,
                                {"model": "finetuned", "data": "task"}, ("finetuned",), resumable=True),
        "search": StageType(SearchOptions, stages_dynamic.run_search, {}, ()),
        "export": StageType(ExportStageOptions, stages_export.run_export, {}, ()),
        "evaluate": StageType(EvaluateStageOptions, stages_eval.run_evaluate, {}, ()),
        "card": StageType(CardOptions, card.run_card, {}, ()),
    }


STAGES: dict[str, StageType] = _registry()
"""Stage type name -> StageType, in pipeline order."""


def option_types(registry: dict[str, StageType] | None = None) -> dict[str, type]:
    """Stage type name -> options dataclass (what `parse_recipe` validates against)."""
    return {name: stage.options for name, stage in (registry or STAGES).items()}
