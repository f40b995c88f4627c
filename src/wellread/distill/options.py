"""The options of `wellread distill` (task and general distillation) and its recipe stages, declared once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from wellread.distill.augment import AugmentOptions
from wellread.errors import WellreadError
from wellread.finetune.data import TASK_NAMES
from wellread.finetune.options import (
    FinetuneOptions,
    HeadOptions,
    ModelOptions,
    PrecisionOptions,
    SubsetOptions,
    TaskDataOptions,
    TrainingOptions,
)
from wellread.options import narrow, option, positive

STAGES = ("auto", "both", "intermediate", "prediction")
DISTILL = "distillation"
AUGMENT = "augmentation (TinyBERT: masked-LM word replacement)"


@dataclass(kw_only=True)
class DistillOptions(TrainingOptions, HeadOptions, PrecisionOptions, SubsetOptions, TaskDataOptions, ModelOptions):
    """`wellread distill`: a teacher into a student; the training options are the prediction stage's (with
    `--task none`, general distillation's)."""

    teacher: str | None = option(None, cli_required=True,
                                 help="teacher model folder (fine-tuned on the task; pretrained for --task none; a "
                                      "recipe: default the previous fine-tune stage's)")
    student: str | None = option(None, cli_required=True,
                                 help="student model folder, or (with --task none) a preset / config.json built "
                                      "with the teacher's vocabulary (a recipe: default the previous stage's model)")
    task: str | None = option(None, cli_required=True, recipe_required=True,
                              help=f"none (general distillation) or {', '.join(TASK_NAMES)}")
    method: str = option("auto", choices=STAGES, flag="--stage",
                         help="which stages run: auto (both when the tokenizers match, else prediction), both, "
                              "intermediate, prediction (a recipe's key is `method`: `stage` names the stage type)")
    alpha: float = option(0.5, group=DISTILL, help="weight of the distillation loss; 1 - alpha weighs the gold loss")
    temperature: float = option(1.0, group=DISTILL, help="softmax temperature of the soft targets")
    transfer: list[str] = option([], group=DISTILL, metavar="FILE",
                                 help="unlabelled transfer texts the teacher labels: .txt lines (TAB between a pair) "
                                      "or task files")
    layer_map: str | None = option(None, group=DISTILL, help="student layer m (0 = embeddings) -> teacher layer, "
                                                             "e.g. 0,3,6 (default uniform m*N/M)")
    layer_losses: str = option("embedding,hidden,attention", group=DISTILL, help="layer loss terms to use")
    intermediate_epochs: float = option(10.0, group=DISTILL, help="epochs of the intermediate stage")
    intermediate_steps: int = option(0, group=DISTILL, help="steps of the intermediate stage (0: epochs)")
    intermediate_lr: float | None = option(None, group=DISTILL,
                                           help="learning rate of the intermediate stage (default --lr)")
    cache_teacher: str = option("auto", group=DISTILL, choices=("auto", "on", "off"),
                                help="keep the teacher's outputs on disk (auto: when the data is seen more than once)")
    augment: bool = option(False, group=AUGMENT, help="add augmented examples to the transfer set")
    augment_model: str | None = option(None, group=AUGMENT,
                                       help="a model folder with a masked-LM head (e.g. runs/tiny)")
    augment_n: int = option(20, group=AUGMENT, help="new examples per example")
    augment_max: int = option(100_000, group=AUGMENT, help="cap on new examples in all")
    augment_prob: float = option(0.4, group=AUGMENT, help="probability of replacing a word")
    augment_candidates: int = option(15, group=AUGMENT, help="masked-LM candidates per word")

    @cached_property
    def finetune(self) -> FinetuneOptions:
        """The student's fine-tuning options (the prediction stage trains with them)."""
        return narrow(FinetuneOptions, self, model=self.student)

    def augment_options(self) -> AugmentOptions | None:
        """TinyBERT augmentation's settings, or None when `augment` is off."""
        if not self.augment:
            return None
        if not self.augment_model:
            raise WellreadError("--augment needs --augment-model: a model folder with a masked-LM head")
        return AugmentOptions(self.augment_model, self.augment_n, self.augment_max, self.augment_prob,
                              self.augment_candidates, seed=self.seed)

    def check(self) -> list[tuple[str, str]]:
        bad = [] if 0 <= self.alpha <= 1 else [("alpha", f"must be in [0, 1], got {self.alpha}")]
        return super().check() + bad + positive(self, "temperature")


@dataclass(kw_only=True)
class GeneralDistillOptions(DistillOptions):
    """The recipe's `general-distill` stage: `wellread distill --task none` (a pretrained teacher's layers into a
    fresh student over raw text), so its task is `none` and its student a preset by default."""

    teacher: str | None = option(None, recipe_required=True, help="a pretrained model folder or hub id")
    task: str | None = option("none", help="none: general distillation")
    student: str | None = option("tiny", help="a preset, a config.json or a model folder with the teacher's "
                                              "vocabulary")
