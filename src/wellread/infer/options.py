"""The options of the inference commands (classify, tag, answer, fill-mask, embed, predict, bench) and of export,
declared once as groups: how a pipeline runs (model, backend, ONNX folder, batch size, length, output), where its inputs
come from, and the question-answering decoding.

Each field is a command-line option (`wellread JOB --help`, see `wellread.options`); `ExportOptions` is also the
recipe's export stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wellread.infer.backends import BACKENDS
from wellread.options import option, positive

QA = "question answering"
COLUMNS = "columns of the input file"
FORMATS = ("onnx",)
"""Export formats."""
BENCH_BACKENDS = tuple(b for b in BACKENDS if b != "auto")
"""The backends `wellread bench` times ("auto" picks one of them per batch, it is not one of its own)."""


@dataclass(kw_only=True)
class PipelineOptions:
    """The model, how it runs (backend, exported files, batching, input length) and where its outputs go: what
    every pipeline command shares."""

    model: str = option(help="a fine-tuned model folder (or hub id)")
    output: Path | None = option(None, help="JSON-lines output file (default stdout)")
    backend: str = option("auto", choices=BACKENDS,
                          help="torch, torch-bf16, onnx, onnx-int8 (after `wellread export`), or auto: torch, with "
                               "bf16 for batches of 48+ tokens where the CPU has native bf16")
    onnx_dir: Path | None = option(None, help="folder of model.onnx / model_int8.onnx (default: the model's)")
    batch_size: int = option(32, help="inputs per forward pass")
    max_length: int | None = option(None, help="tokens per input (default 512, QA 384, embed the folder's "
                                               "sentence_bert_config.json max_seq_length when it has one; at most "
                                               "the model's positions); longer inputs are truncated, QA contexts "
                                               "read in overlapping windows")

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "batch_size", "max_length")


@dataclass(kw_only=True)
class InputsOptions:
    """Inputs given on the command line, in files or on stdin."""

    inputs: list[str] = option([], positional=True,
                               help="inputs, each a text, a JSON object or TSV values (default: stdin)")
    input: list[str] = option([], append=True, metavar="FILE",
                              help="a file of inputs, one JSON object or TSV record a line; - for stdin (repeatable)")


@dataclass(kw_only=True)
class AnswerDecodingOptions:
    """How an extractive QA model's windows and answers are read (`AnswerPipeline`'s options)."""

    doc_stride: int | None = option(None, group=QA, help="context tokens shared by consecutive windows (default 128, "
                                                         "at most a third of max length)")
    max_answer_length: int = option(30, group=QA, help="longest answer in tokens")
    null_threshold: float = option(0.0, group=QA, help="SQuAD v2.0 models: answer \"\" when the no-answer score "
                                                       "beats the best span by more (default 0)")

    def answer_options(self) -> dict[str, Any]:
        """`AnswerPipeline` keyword options."""
        return {"doc_stride": self.doc_stride, "max_answer_length": self.max_answer_length,
                "null_threshold": self.null_threshold}

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "doc_stride", "max_answer_length") + getattr(super(), "check", list)()


@dataclass(kw_only=True)
class PipelineCommandOptions(PipelineOptions, InputsOptions):
    """A pipeline command's options: the model, how it runs, its inputs and outputs."""


@dataclass(kw_only=True)
class ClassifyOptions(PipelineCommandOptions):
    """`wellread classify`: texts or text pairs through a sequence classifier (or regression model)."""


@dataclass(kw_only=True)
class TagOptions(PipelineCommandOptions):
    """`wellread tag`: the words of texts through a token classifier."""


@dataclass(kw_only=True)
class FillMaskOptions(PipelineCommandOptions):
    """`wellread fill-mask`: a masked-LM's predictions for each [MASK]."""

    top_k: int = option(5, help="predictions per mask")

    def check(self) -> list[tuple[str, str]]:
        return positive(self, "top_k") + super().check()


@dataclass(kw_only=True)
class EmbedOptions(PipelineCommandOptions):
    """`wellread embed`: texts through a bare encoder, pooled into one (normalised) vector each."""

    pooling: str | None = option(None, choices=("mean", "cls"),
                                 help="mean over the real tokens, or the [CLS] state (default: the model folder's "
                                      "modules.json, else mean)")
    normalize: bool = option(True, help="raw pooled vectors, not L2-normalised")
    save_pooling: bool = option(False, help="store the pooling and normalisation in the model folder "
                                            "(sentence-transformers layout: modules.json, 1_Pooling, 2_Normalize)")


@dataclass(kw_only=True)
class AnswerOptions(AnswerDecodingOptions, PipelineCommandOptions):
    """`wellread answer`: questions answered from contexts by an extractive QA model."""

    question: str | None = option(None, help="one question (with --context)")
    context: str | None = option(None, help="the context of --question")

    def check(self) -> list[tuple[str, str]]:
        together = [("question", "goes with --context: give both or neither")] \
            if (self.question is None) != (self.context is None) else []
        return together + super().check()

    def all_inputs(self) -> list[str]:
        """The command-line inputs, with --question/--context as one more (a JSON record)."""
        extra = [json.dumps({"question": self.question, "context": self.context})] if self.question is not None else []
        return [*self.inputs, *extra]


@dataclass(kw_only=True)
class PredictOptions(AnswerDecodingOptions, PipelineOptions):
    """`wellread predict`: a file's records through the pipeline of the model's head, columns mapped to inputs."""

    input: str = option(help="input file (.jsonl, .csv, .tsv, else text lines); - for stdin")
    text_column: str = option("text", group=COLUMNS, help="field of the text")
    text_pair_column: str = option("text_pair", group=COLUMNS, help="field of the second text")
    question_column: str = option("question", group=COLUMNS, help="QA: field of the question")
    context_column: str = option("context", group=COLUMNS, help="QA: field of the context")
    tokens_column: str = option("tokens", group=COLUMNS, help="tagging: field of the word list")


@dataclass(kw_only=True)
class BenchOptions:
    """`wellread bench`: a model's forward pass timed on each backend and length."""

    model: str = option(positional=True, help="a model folder (classifier, tagger, QA or masked-LM)")
    backends: list[str] = option(list(BENCH_BACKENDS), comma=True,
                                 help=f"comma-separated, of {', '.join(BENCH_BACKENDS)} (default: all four)")
    lengths: list[int] = option([16, 32, 64, 128, 256], comma=True,
                                help="comma-separated sequence lengths (default 16,32,64,128,256)")
    batch_size: int = option(32, help="batch size of the throughput runs")
    seconds: float = option(2.0, help="time per measurement")
    threads: int | None = option(None, help="CPU threads for every backend (default torch's)")
    onnx_dir: Path | None = option(None, help="folder of model.onnx / model_int8.onnx (default: the model's, else "
                                              "exported to a temporary folder)")
    out: Path = option(Path("bench"), help="folder for bench.json and bench.png")

    def check(self) -> list[tuple[str, str]]:
        unknown = [b for b in self.backends if b not in BENCH_BACKENDS]
        problems = [("backends", f"unknown {unknown}; choose from {', '.join(BENCH_BACKENDS)}")] if unknown else []
        problems += [("lengths", "expected positive lengths")] if not self.lengths or min(self.lengths) <= 0 else []
        problems += [("backends", "expected at least one backend")] if not self.backends else []
        return problems + positive(self, "batch_size")


@dataclass(kw_only=True)
class ExportOptions:
    """`wellread export` (and a recipe's export stage): model.onnx, optionally model_int8.onnx, beside a model's
    weights (or in `out`), each checked against PyTorch."""

    model: str | None = option(None, positional=True, cli_required=True, recipe=False,
                               help="a model folder (classifier, tagger, QA or masked-LM) or hub id (a recipe "
                                    "exports every fine-tuned model, else the latest pretrained one)")
    format: str = option("onnx", choices=FORMATS, help="the export format (ONNX, the one so far)")
    onnx: bool = option(False, recipe=False, help="the same as --format onnx (kept for command lines written "
                                                  "before --format)")
    int8: bool = option(False, help="also write model_int8.onnx (dynamic int8 quantization of the matrix products)")
    out: Path | None = option(None, help="output folder (default: the model folder)")
