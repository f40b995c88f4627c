"""SQuAD v1.1 / v2.0 JSON: read questions with their answers, check answer offsets, write prediction files.

Reading keeps every reference answer (train on the first, evaluate against all) and the v2.0 `is_impossible`
flag; `plausible_answers` of unanswerable v2.0 questions are not answers and are ignored. Windowing into
features is done later, with the tokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from wellread.errors import DataError
from wellread.tasks.common import MAX_LISTED
from wellread.tasks.squad_eval import squad_metrics


class Answer(NamedTuple):
    """A reference answer: its text and the character offset of its start in the context."""

    text: str
    start: int


@dataclass(frozen=True)
class QAExample:
    """One question over one context; `answers` is empty exactly when `is_impossible` (SQuAD v2.0)."""

    id: str
    question: str
    context: str
    answers: list[Answer]
    is_impossible: bool = False
    title: str = ""


def _get(node: Any, key: str, kind: type | tuple[type, ...], where: str, path: Path) -> Any:
    if not isinstance(node, dict) or key not in node:
        raise DataError(f"{path}: {where}: missing {key!r}")
    value = node[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise DataError(f"{path}: {where}.{key}: expected {expected}, found {type(value).__name__}")
    return value


def _question(qa: dict, context: str, title: str, where: str, path: Path) -> QAExample:
    qid = str(_get(qa, "id", (str, int), where, path))
    where = f"{where} (id {qid})"
    question = _get(qa, "question", str, where, path)
    impossible = bool(qa.get("is_impossible", False))
    answers = []
    for a, answer in enumerate(_get(qa, "answers", list, where, path)):
        text = _get(answer, "text", str, f"{where}.answers[{a}]", path)
        start = _get(answer, "answer_start", int, f"{where}.answers[{a}]", path)
        answers.append(Answer(text, start))
    if impossible and answers:
        raise DataError(f"{path}: {where}: is_impossible is true but the question has answers")
    if not impossible and not answers:
        raise DataError(f"{path}: {where}: no answers (and not marked is_impossible)")
    return QAExample(qid, question, context, answers, impossible, title)


def offset_mismatches(examples: Iterable[QAExample]) -> list[tuple[str, Answer]]:
    """(question id, answer) for every answer whose text is not found at `answer_start` in its context."""
    return [
        (ex.id, answer)
        for ex in examples
        for answer in ex.answers
        if answer.start < 0 or ex.context[answer.start : answer.start + len(answer.text)] != answer.text
    ]


def read_squad(path: str | Path, *, check_offsets: bool = True) -> list[QAExample]:
    """Read a SQuAD-format JSON file (v1.1 or v2.0) into QAExamples, in file order.

    Structural problems (missing keys, wrong types, an answer on an unanswerable question) raise DataError
    naming the JSON location and question id. With `check_offsets`, answers whose `answer_start` does not
    point at their text are reported together (count and question ids) in one DataError.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            root = json.load(handle)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from error
    examples = []
    for d, article in enumerate(_get(root, "data", list, "top level", path)):
        title = str(article.get("title", "")) if isinstance(article, dict) else ""
        for p, paragraph in enumerate(_get(article, "paragraphs", list, f"data[{d}]", path)):
            where = f"data[{d}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, where, path)
            for q, qa in enumerate(_get(paragraph, "qas", list, where, path)):
                examples.append(_question(qa, context, title, f"{where}.qas[{q}]", path))
    if check_offsets:
        bad = offset_mismatches(examples)
        if bad:
            lines = [f"{path}: {len(bad)} answer(s) whose answer_start does not match the context:"]
            lines += [f"  question {qid}: answer {a.text!r} not at offset {a.start}" for qid, a in bad[:MAX_LISTED]]
            if len(bad) > MAX_LISTED:
                lines.append(f"  ... and {len(bad) - MAX_LISTED} more")
            raise DataError("\n".join(lines))
    return examples


def squad_version(examples: Iterable[QAExample]) -> str:
    """ "2.0" when any question is unanswerable, else "1.1"."""
    return "2.0" if any(ex.is_impossible for ex in examples) else "1.1"


def references(examples: Iterable[QAExample]) -> dict[str, list[str]]:
    """Question id -> reference answer texts ([] for unanswerable), the input of `squad_metrics`."""
    return {ex.id: [answer.text for answer in ex.answers] for ex in examples}


def evaluate_squad(
    examples: list[QAExample], predictions: Mapping[str, str], version: str | None = None
) -> dict[str, float]:
    """Official-script EM/F1 of `predictions` (question id -> answer text, "" = no answer) on `examples`.

    `version` defaults to "2.0" when the examples contain unanswerable questions, else "1.1".
    """
    return squad_metrics(predictions, references(examples), version or squad_version(examples))


def write_predictions(
    path: str | Path, predictions: Mapping[str, str], na_probs: Mapping[str, float] | None = None
) -> None:
    """Write predictions in the official format `{question id: answer text}` (UTF-8 JSON).

    For SQuAD v2.0, `na_probs` (question id -> probability of no answer) is written next to it as
    `<stem>_na_probs.json`, the `--na-prob-file` of the official v2.0 script.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(predictions), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if na_probs is not None:
        na_path = path.with_name(f"{path.stem}_na_probs.json")
        na_path.write_text(json.dumps({k: float(v) for k, v in na_probs.items()}, indent=2) + "\n", encoding="utf-8")
