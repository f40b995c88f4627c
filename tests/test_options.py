"""Options declared once: the CLI and the recipe stages come from the same dataclasses, and every command line
written in the docs still parses."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from wellread.cli import COMMANDS, build_parser
from wellread.errors import WellreadError
from wellread.options import RECIPE_EXCLUDED, from_args, option, recipe_fields
from wellread.recipe.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]

JOBS = {
    ("finetune",): "finetune",
    ("distill",): "distill",
    ("lengthdrop",): "lengthdrop",
    ("search",): "search",
    ("corpus", "build"): "corpus",
    ("corpus", "pack"): "pack",
    ("tokenizer", "train"): "tokenizer",
    ("pretrain",): "pretrain",
    ("export",): "export",
}
"""Command (with sub-command) -> the recipe stage type that runs the same job."""

CLI_ONLY = {
    ("export",): {"model", "onnx"},
}
"""Options of a job's command that its stage does not take, beyond RECIPE_EXCLUDED: the export stage exports every
model folder the recipe made (no `model`), and `--onnx` is only the older command-line spelling of `--format onnx`.
(`wellread evaluate` is not in JOBS: its stage re-evaluates every fine-tuned model with the options of its own
fine-tune stage, so it shares only the split; see test_evaluate_stage_shares_the_evaluate_jobs_split.)"""


def cli_dests(command: tuple[str, ...]) -> set[str]:
    """The option names (argparse dests) `wellread COMMAND` accepts."""
    parser = build_parser(command[0])
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {a.dest for a in parser._actions if a.dest not in ("help", "command") and not isinstance(
        a, argparse._SubParsersAction)}


@pytest.mark.parametrize("command", list(JOBS), ids=" ".join)
def test_cli_options_equal_recipe_stage_keys(command: tuple[str, ...]) -> None:
    stage = STAGES[JOBS[command]]
    keys = {f.name for f in recipe_fields(stage.options)}
    assert cli_dests(command) - set(RECIPE_EXCLUDED) - CLI_ONLY.get(command, set()) == keys
    module = importlib.import_module(COMMANDS[command[0]][0])
    if hasattr(module, "OPTIONS"):  # one declaration: the stage's options are the command's (or a subclass)
        assert issubclass(stage.options, module.OPTIONS)


def test_evaluate_stage_shares_the_evaluate_jobs_split() -> None:
    from wellread.finetune.options import SplitOptions
    from wellread.recipe.stages_eval import SpeedOptions

    stage = STAGES["evaluate"].options
    speed = {f.name for f in recipe_fields(SpeedOptions)}
    assert {f.name for f in recipe_fields(stage)} == {"split"} | speed
    assert issubclass(stage, SplitOptions) and issubclass(importlib.import_module(COMMANDS["evaluate"][0]).OPTIONS,
                                                          SplitOptions)


def test_general_distill_stage_is_the_distill_job() -> None:
    assert {f.name for f in recipe_fields(STAGES["general-distill"].options)} == \
        {f.name for f in recipe_fields(STAGES["distill"].options)}


@dataclass(kw_only=True)
class Demo:
    inputs: list[str] | None = option(None, positional=True, cli_required=True)
    out: Path | None = option(None, cli_required=True, help="where")
    batch_size: int = option(32, help="examples per step")
    lrs: list[float] = option([1e-4, 5e-5], comma=True)
    phases: list[str] = option(["128:10"], append=True, flag="--phase")
    grouped: bool = option(True, flag="--no-grouping")
    kind: str = option("a", choices=("a", "b"))

    def check(self) -> list[tuple[str, str]]:
        return [("batch_size", "must be > 0")] if self.batch_size <= 0 else []


def parse(argv: list[str]) -> Demo:
    parser = argparse.ArgumentParser()
    from wellread.options import add_arguments

    add_arguments(parser, Demo)
    return from_args(Demo, parser.parse_args(argv))


def test_generated_parser_spellings_defaults_and_checks() -> None:
    d = parse(["x", "y", "--out", "o", "--lrs", "1e-3,2e-3", "3e-3", "--phase", "128:5", "--phase", "512:1",
               "--no-grouping"])
    assert d.inputs == ["x", "y"] and d.out == Path("o") and d.batch_size == 32
    assert d.lrs == [1e-3, 2e-3, 3e-3] and d.phases == ["128:5", "512:1"] and d.grouped is False
    assert parse(["x", "--out", "o"]).phases == ["128:10"]
    with pytest.raises(WellreadError, match="--batch-size: must be > 0"):
        parse(["x", "--out", "o", "--batch-size", "0"])
    with pytest.raises(SystemExit):
        parse(["x", "--out", "o", "--kind", "c"])
    with pytest.raises(SystemExit):
        parse(["x"])  # --out is required on the command line


def command_options(argv: list[str]) -> object:
    """The options dataclass `wellread ARGV` runs with (parsed and checked, not run)."""
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return from_args(module.OPTIONS, build_parser(argv[0]).parse_args(argv))


def test_export_format_and_int8_defaults_of_command_and_stage() -> None:
    plain = command_options(["export", "m"])
    assert (plain.model, plain.format, plain.int8, plain.out) == ("m", "onnx", False, None)
    assert command_options(["export", "m", "--onnx", "--int8", "--out", "o"]).int8
    with pytest.raises(SystemExit):
        command_options(["export", "m", "--format", "tflite"])
    stage = STAGES["export"].options()
    assert stage.int8 and stage.format == "onnx"  # a recipe writes model_int8.onnx unless `int8: false`


def test_inference_command_options_parse_and_are_checked() -> None:
    classify = command_options(["classify", "--model", "m"])
    assert classify.inputs == [] and classify.input == [] and classify.backend == "auto"  # no inputs: stdin
    assert command_options(["tag", "--model", "m", "a", "b", "--input", "f", "--input", "g"]).input == ["f", "g"]
    assert command_options(["fill-mask", "--model", "m", "x [MASK]", "--top-k", "3"]).top_k == 3
    answer = command_options(["answer", "--model", "m", "--question", "who?", "--context", "ann", "--doc-stride", "8"])
    assert answer.all_inputs() == ['{"question": "who?", "context": "ann"}'] and answer.answer_options()[
        "doc_stride"] == 8
    with pytest.raises(WellreadError, match="--question: goes with --context"):
        command_options(["answer", "--model", "m", "--question", "who?"])
    with pytest.raises(WellreadError, match="--batch-size: must be > 0"):
        command_options(["predict", "--model", "m", "--input", "f", "--batch-size", "0"])
    bench = command_options(["bench", "m", "--backends", "torch,onnx-int8", "--lengths", "32,128"])
    assert (bench.backends, bench.lengths) == (["torch", "onnx-int8"], [32, 128])
    assert command_options(["bench", "m"]).backends == ["torch", "torch-bf16", "onnx", "onnx-int8"]
    with pytest.raises(WellreadError, match="--backends: unknown \\['auto'\\]"):
        command_options(["bench", "m", "--backends", "torch,auto"])


COMMAND = re.compile(r"^\s*(?:\$ )?(?:torchrun .*?-m wellread\.cli|wellread) ([a-z-]+( .*)?)$")
SHELL_ARRAY = re.compile(r'"\$\{\w+\[@\]\}"')  # "${flags[@]}": options, left out
SHELL_VARIABLE = re.compile(r"\$\{?[A-Za-z_]\w*\}?")


def command_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, command line) of each `wellread ...` command in a file: in Markdown only inside code fences,
    in Python only in docstring example lines (indented), in shell scripts every one; continuation lines joined."""
    lines = path.read_text(encoding="utf-8").splitlines()
    fenced = path.suffix != ".md"
    out, i = [], 0
    while i < len(lines):
        start, text = i, lines[i]
        if text.lstrip().startswith("```"):
            fenced = not fenced if path.suffix == ".md" else fenced
        while text.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text.rstrip().rstrip("\\") + " " + lines[i].strip()
        i += 1
        match = COMMAND.match(text)
        if fenced and match and (path.suffix != ".py" or text.startswith("  ")) and "..." not in text \
                and "--help" not in text:
            line = re.split(r"\s+#\s|\s*>\s|\s*\|\s|\s*&&\s", match.group(1))[0]
            out.append((start + 1, SHELL_VARIABLE.sub("1", SHELL_ARRAY.sub("", line))))
    return out


def documented_command_lines() -> list[tuple[str, str]]:
    """(where, command line) for every `wellread ...` command in README.md, docs/, recipes/ and --help examples."""
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "recipes").glob("*.sh"))]
    sources += sorted((ROOT / "src" / "wellread" / "commands").glob("*.py"))
    return [(f"{path.relative_to(ROOT)}:{n}", line) for path in sources for n, line in command_lines(path)
            if line.split()[0] in COMMANDS]


def test_every_documented_command_line_parses() -> None:
    lines = documented_command_lines()
    assert len(lines) > 50
    failures = []
    for where, line in lines:
        try:
            argv = shlex.split(line)
            build_parser(argv[0]).parse_args(argv)
        except (SystemExit, ValueError):
            failures.append(f"{where}: wellread {line}")
    assert not failures, "command lines that no longer parse:\n" + "\n".join(failures)
