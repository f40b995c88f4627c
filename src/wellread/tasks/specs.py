"""What each sentence(-pair) task looks like on disk and how it is scored: one `TaskSpec` per task.

Tasks: the nine GLUE tasks (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) and the two SICK tasks
(sick-r: relatedness as regression, sick-e: 3-way entailment). `get_task` accepts the usual spellings
("SST-2", "sts-b", "MNLI", "sick_r").

Label order is part of the contract: a classifier's output unit i means `spec.labels[i]`, and a teacher and
its student must agree on it. The order is the label strings as they appear in the files, sorted, which is
also the order of Google's original BERT `run_classifier.py` (and so of the BERT miniatures and TinyBERT):
MNLI is `("contradiction", "entailment", "neutral")`. The Hugging Face `datasets` glue/mnli config numbers
them differently (entailment 0, neutral 1, contradiction 2); `load_glue_hf` maps by label *name*, never by
integer, and `label_permutation` converts logits between two orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wellread.errors import WellreadError

SPLITS = ("train", "dev", "dev_mm", "test", "test_mm")


@dataclass(frozen=True)
class TaskSpec:
    """One task: its files, columns, labels and metrics.

    `files` maps a split ("train", "dev", "dev_mm", "test", "test_mm") to candidate file names inside the task
    folder, tried in order. Columns are named by the file's header; a layout without a header (CoLA train/dev)
    names its columns in `headerless_columns`. `labels` is empty for regression tasks. `metrics` are the metric
    names `glue_metrics` returns for this task (MNLI: `mnli_acc` on dev, `mnli_acc_mm` on dev_mm).
    """

    name: str
    dir_name: str
    text_columns: tuple[str, ...]
    label_column: str
    labels: tuple[str, ...]
    metrics: tuple[str, ...]
    files: dict[str, tuple[str, ...]]
    id_column: str | None = "index"
    headerless_columns: tuple[str, ...] | None = None
    hf_config: str | None = None
    hf_text_columns: tuple[str, ...] = ()
    #: (HF ClassLabel name, wellread label) in HF integer-id order.
    hf_labels: tuple[tuple[str, str], ...] = field(default=())

    @property
    def is_regression(self) -> bool:
        """True for tasks with a float target (STS-B, SICK relatedness)."""
        return not self.labels

    @property
    def is_pair(self) -> bool:
        """True for sentence-pair tasks."""
        return len(self.text_columns) == 2

    @property
    def num_labels(self) -> int:
        """Output units of a model for this task (1 for regression)."""
        return len(self.labels) or 1

    def label_id(self, label: str) -> int:
        """Index of `label` in `labels` (KeyError-free: raises ValueError naming the valid labels)."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"{self.name}: unknown label {label!r}; labels are {list(self.labels)}") from None


def _glue_files(dev: str = "dev.tsv", **extra: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    files = {"train": ("train.tsv",), "dev": (dev,), "test": ("test.tsv",)}
    files.update(extra)
    return files


_MNLI_FILES = {
    "train": ("train.tsv",),
    "dev": ("dev_matched.tsv",),
    "dev_mm": ("dev_mismatched.tsv",),
    "test": ("test_matched.tsv",),
    "test_mm": ("test_mismatched.tsv",),
}
_SICK_FILES = {
    "train": ("SICK_train.txt",),
    "dev": ("SICK_trial.txt",),
    "test": ("SICK_test_annotated.txt",),
}
_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
_PAIR = ("sentence1", "sentence2")
_SICK_PAIR = ("sentence_A", "sentence_B")

_TASK_LIST = (
    TaskSpec(
        name="cola", dir_name="CoLA", text_columns=("sentence",), label_column="label", labels=_BINARY,
        metrics=("cola_mcc",), files=_glue_files(), headerless_columns=("source", "label", "label_mark", "sentence"),
        hf_config="cola", hf_text_columns=("sentence",), hf_labels=(("unacceptable", "0"), ("acceptable", "1")),
    ),
    TaskSpec(
        name="sst2", dir_name="SST-2", text_columns=("sentence",), label_column="label", labels=_BINARY,
        metrics=("sst2_acc",), files=_glue_files(),
        hf_config="sst2", hf_text_columns=("sentence",), hf_labels=(("negative", "0"), ("positive", "1")),
    ),
    TaskSpec(
        name="mrpc", dir_name="MRPC", text_columns=("#1 String", "#2 String"), label_column="Quality", labels=_BINARY,
        metrics=("mrpc_acc", "mrpc_f1"),
        files={
            "train": ("train.tsv", "msr_paraphrase_train.txt"),
            "dev": ("dev.tsv",),
            "test": ("test.tsv", "msr_paraphrase_test.txt"),
        },
        hf_config="mrpc", hf_text_columns=_PAIR, hf_labels=(("not_equivalent", "0"), ("equivalent", "1")),
    ),
    TaskSpec(
        name="stsb", dir_name="STS-B", text_columns=_PAIR, label_column="score", labels=(),
        metrics=("stsb_pear", "stsb_spear"), files=_glue_files(), hf_config="stsb", hf_text_columns=_PAIR,
    ),
    TaskSpec(
        name="qqp", dir_name="QQP", text_columns=("question1", "question2"), label_column="is_duplicate",
        labels=_BINARY, metrics=("qqp_acc", "qqp_f1"), files=_glue_files(), id_column="id",
        hf_config="qqp", hf_text_columns=("question1", "question2"),
        hf_labels=(("not_duplicate", "0"), ("duplicate", "1")),
    ),
    TaskSpec(
        name="mnli", dir_name="MNLI", text_columns=_PAIR, label_column="gold_label",
        labels=("contradiction", "entailment", "neutral"), metrics=("mnli_acc", "mnli_acc_mm"), files=_MNLI_FILES,
        hf_config="mnli", hf_text_columns=("premise", "hypothesis"),
        hf_labels=(("entailment", "entailment"), ("neutral", "neutral"), ("contradiction", "contradiction")),
    ),
    TaskSpec(
        name="qnli", dir_name="QNLI", text_columns=("question", "sentence"), label_column="label", labels=_NLI2,
        metrics=("qnli_acc",), files=_glue_files(),
        hf_config="qnli", hf_text_columns=("question", "sentence"), hf_labels=tuple((n, n) for n in _NLI2),
    ),
    TaskSpec(
        name="rte", dir_name="RTE", text_columns=_PAIR, label_column="label", labels=_NLI2,
        metrics=("rte_acc",), files=_glue_files(),
        hf_config="rte", hf_text_columns=_PAIR, hf_labels=tuple((n, n) for n in _NLI2),
    ),
    TaskSpec(
        name="wnli", dir_name="WNLI", text_columns=_PAIR, label_column="label", labels=_BINARY,
        metrics=("wnli_acc",), files=_glue_files(),
        hf_config="wnli", hf_text_columns=_PAIR, hf_labels=(("not_entailment", "0"), ("entailment", "1")),
    ),
    TaskSpec(
        name="sick-r", dir_name="SICK", text_columns=_SICK_PAIR, label_column="relatedness_score", labels=(),
        metrics=("sickr_pear", "sickr_spear"), files=_SICK_FILES, id_column="pair_ID",
    ),
    TaskSpec(
        name="sick-e", dir_name="SICK", text_columns=_SICK_PAIR, label_column="entailment_judgment",
        labels=("CONTRADICTION", "ENTAILMENT", "NEUTRAL"), metrics=("sicke_acc",), files=_SICK_FILES,
        id_column="pair_ID",
    ),
)  # fmt: skip

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _TASK_LIST}

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
SICK_TASKS = ("sick-r", "sick-e")


class UnknownTaskError(WellreadError, ValueError):
    """A task name that is not one of `TASKS` (the message lists the known ones)."""


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "").replace(" ", "")


_BY_KEY = {_key(name): spec for name, spec in TASKS.items()}
_BY_KEY.update({_key(spec.dir_name): spec for spec in TASKS.values() if spec.dir_name != "SICK"})


def get_task(name: str) -> TaskSpec:
    """The TaskSpec for a task name, case and `-`/`_` insensitive ("SST-2", "sts_b", "sick-r")."""
    key = _key(name)
    key = "mnli" if key == "mnlimm" else key
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownTaskError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def label_permutation(from_labels: tuple[str, ...] | list[str], to_labels: tuple[str, ...] | list[str]) -> list[int]:
    """Indices `perm` such that `logits_in_from_order[..., perm]` is in `to_labels` order.

    Use it when a teacher (or a checkpoint from elsewhere) orders the same labels differently, e.g. Hugging
    Face MNLI (entailment, neutral, contradiction) vs wellread (contradiction, entailment, neutral). Labels
    are compared case-insensitively; a label missing on either side raises ValueError.
    """
    lowered = [label.lower() for label in from_labels]
    if sorted(lowered) != sorted(label.lower() for label in to_labels):
        raise ValueError(f"label sets differ: {list(from_labels)} vs {list(to_labels)}")
    return [lowered.index(label.lower()) for label in to_labels]
