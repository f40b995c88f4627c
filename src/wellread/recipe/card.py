"""The model card: README.md in each model folder a recipe produced, after Hugging Face's card conventions.

YAML metadata first (language, license, library_name, pipeline_tag, tags, base_model, model-index with every
evaluation result), then: the model (architecture and size), the training data (the corpus snapshot, its date
and sources), the training recipe (each stage, and the recipe file itself), evaluation beside the baselines,
speed, intended uses and limitations, and how to use it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wellread.options import option
from wellread.recipe.base import StageContext, StageRecord, StageResult

PIPELINE_TAGS = {"masked-lm": "fill-mask", "pretraining": "fill-mask", "sequence-classification":
                 "text-classification", "token-classification": "token-classification",
                 "question-answering": "question-answering", "base": "feature-extraction"}
TASK_NAMES = {"text-classification": "Text Classification", "token-classification": "Token Classification",
              "question-answering": "Question Answering", "fill-mask": "Fill-Mask"}
DEFAULT_USES = ("A compact English encoder for fast CPU inference and for experiments with small BERTs: "
                "fine-tuning on your own classification, tagging or extractive QA data, distillation and "
                "sequence-length studies.")
DEFAULT_LIMITS = ("Trained briefly on a small corpus: far below full-size BERT on language understanding, and it "
                  "inherits the topics, dialects and biases of its corpus (see Training data). Not evaluated "
                  "for safety-critical or high-stakes decisions; check it on your own data before relying on it.")



@dataclass(kw_only=True)
class CardOptions:
    """Write the model card (README.md) into every model folder the recipe produced."""

    intended_uses: str = option("", help="the card's Intended uses section (default: `DEFAULT_USES`)")
    limitations: str = option("", help="the card's Limitations section (default: `DEFAULT_LIMITS`)")
    tags: list[str] = option([], help="tags added to the card's metadata (after wellread, bert, compact)")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _find(records: list[StageRecord], stage_type: str) -> list[StageRecord]:
    return [r for r in records if r.type == stage_type]


def _task_models(records: list[StageRecord]) -> list[StageRecord]:
    """The stages that trained a model on a task (fine-tune, distill)."""
    return [r for r in records if "finetuned" in r.outputs]


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def evaluation_rows(records: list[StageRecord]) -> list[dict[str, Any]]:
    """Every evaluation figure: {stage, task, split, metric, value, baseline}."""
    rows = []
    for r in _find(records, "pretrain"):
        final = r.details["phases"][-1]["eval"]
        for metric, scale in (("val_mlm_acc", 100), ("val_perplexity", 1)):
            if metric in final:
                rows.append({"stage": r.name, "task": "masked-lm", "split": "held-out corpus", "metric": metric,
                             "value": round(scale * final[metric], 2), "baseline": None})
    for r in _task_models(records):
        for metric, value in r.details["metrics"].items():
            rows.append({"stage": r.name, "task": r.details["task"], "split": "dev", "metric": metric,
                         "value": round(value, 2), "baseline": r.details["baselines"].get(metric)})
        for metric, value in r.details.get("teacher_metrics", {}).items():
            rows.append({"stage": f"{r.name} (its teacher)", "task": r.details["task"], "split": "dev",
                         "metric": metric, "value": round(value, 2), "baseline": r.details["baselines"].get(metric)})
    for r in _find(records, "search"):
        d = r.details
        rows.append({"stage": f"{d['stage']} (searched lengths, keep {d['chosen']['keep']})", "task": d["task"],
                     "split": "dev", "metric": d["metric"], "value": round(d["chosen"]["metric"], 2),
                     "baseline": None})
    for r in _find(records, "evaluate"):
        for name, e in r.details["evaluations"].items():
            if e["split"] == "dev":
                continue  # the fine-tune stage's own figures, checked again by the evaluate stage
            for metric, value in (e.get("metrics") or {}).items():
                rows.append({"stage": name, "task": e["task"], "split": e["split"], "metric": metric,
                             "value": round(value, 2), "baseline": (e.get("baselines") or {}).get(metric)})
    return rows


def metadata(recipe_name: str, model_name: str, own: str, pipeline: str, records: list[StageRecord], language: str,
             license_name: str, tags: list[str], base_model: str | None) -> dict[str, Any]:
    """The card's YAML front matter; its model-index holds the results of the stage `own` (the model's)."""
    meta: dict[str, Any] = {"language": language, "license": license_name, "library_name": "transformers",
                            "pipeline_tag": pipeline, "tags": ["wellread", "bert", "compact", *tags]}
    if base_model:
        meta["base_model"] = base_model
    results = []
    for row in evaluation_rows(records):
        if row["stage"] != own:
            continue
        task_type = "fill-mask" if row["task"] == "masked-lm" else pipeline
        results.append({"task": {"type": task_type, "name": TASK_NAMES.get(task_type, task_type)},
                        "dataset": {"name": row["task"], "type": row["task"], "split": row["split"]},
                        "metrics": [{"type": row["metric"], "value": row["value"],
                                     "name": f"{row['metric']} ({row['stage']})"}]})
    if results:
        meta["model-index"] = [{"name": model_name, "results": results}]
    meta["wellread_recipe"] = recipe_name
    return meta


def render(ctx: StageContext, opts: CardOptions, record: StageRecord, folder: str) -> str:
    """The README.md text for the model folder that `record`'s stage wrote."""
    from wellread.models.fingerprint import fingerprint
    from wellread.models.folder import read_model_folder

    recipe, records = ctx.recipe, ctx.earlier
    model_folder = read_model_folder(folder)
    config = model_folder.config
    pipeline = PIPELINE_TAGS.get(model_folder.own_head(), "feature-extraction")
    model_name = recipe.model_name or recipe.name
    name = f"{model_name}-{record.name}" if "finetuned" in record.outputs else model_name
    base = record.inputs.get("model") or record.inputs.get("student")
    meta = metadata(recipe.name, name, record.name, pipeline, records, recipe.language, recipe.license, opts.tags,
                    base if base and not Path(str(base)).exists() else None)
    meta["wellread_fingerprint"] = fingerprint(folder)  # the weights, config and length configuration described
    weights = Path(folder) / "model.safetensors"
    params = next((s["parameters"] for r in _find(records, "evaluate") for s in r.details["speed"].values()), None)
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", "", f"# {name}", ""]
    lines += [recipe.description.strip() or f"A compact {config.model_type.upper()} built by the wellread recipe "
              f"`{recipe.name}`.", ""]
    if "finetuned" in record.outputs:
        teacher = record.inputs.get("teacher")
        how = f"distilled from the teacher `{teacher}` into" if teacher else "fine-tuned from"
        lines += [f"Trained on **{record.details['task']}** (labels: {', '.join(record.details['labels'] or [])})"
                  f"; {how} the encoder `{base}`.", ""]
    lines += ["## Model", ""]
    rows = [["architecture", f"{config.model_type} ({config.architectures[0] if config.architectures else 'encoder'})"],
            ["layers / hidden / heads / FFN", f"{config.num_hidden_layers} / {config.hidden_size} / "
             f"{config.num_attention_heads} / {config.intermediate_size}"],
            ["vocabulary", f"{config.vocab_size:,} WordPiece tokens"],
            ["max positions", config.max_position_embeddings]]
    if params:
        rows.append(["parameters", f"{params / 1e6:.2f} M"])
    if weights.is_file():
        rows.append(["weights", f"{weights.stat().st_size / 1e6:.1f} MB (fp32 safetensors)"])
    lines += _md_table(["", ""], rows) + [""]
    lines += _data_section(records)
    lines += _recipe_section(recipe, records)
    lines += _evaluation_section(records)
    lines += _speed_section(records)
    lines += _export_section(records, record.name)
    lines += ["## Intended uses", "", opts.intended_uses.strip() or DEFAULT_USES, "",
              "## Limitations", "", opts.limitations.strip() or DEFAULT_LIMITS, ""]
    lines += _usage_section(folder, pipeline)
    return "\n".join(lines).rstrip() + "\n"


def _data_section(records: list[StageRecord]) -> list[str]:
    lines = ["## Training data", ""]
    for r in _find(records, "package-docs"):
        lines += [f"Raw text: {r.details['dataset']}; {r.details['train_examples']} / {r.details['dev_examples']} "
                  f"train / dev sentences labelled with their library's topic ({', '.join(r.details['labels'])}).", ""]
    for r in _find(records, "corpus"):
        d = r.details
        lines += [f"Corpus snapshot of **{d['snapshot_date']}** built by `wellread corpus build` (stage `{r.name}`): "
                  f"{d['documents_kept']:,} of {d['documents_read']:,} documents kept, {d['mb_kept']} of "
                  f"{d['mb_read']} MB, after normalisation, quality filters, exact and near de-duplication"
                  + (" and decontamination against evaluation files" if r.options.get("decontaminate") else "")
                  + ".", ""]
        removed = ", ".join(f"{k} {v:,}" for k, v in sorted(d["removed"].items(), key=lambda kv: -kv[1]))
        if removed:
            lines += [f"Removed: {removed}.", ""]
        lines += _md_table(["source", "MB", "documents read", "kept"],
                           [[Path(s["path"]).name, f"{s['bytes'] / 1e6:.2f}", f"{s.get('documents_read', 0):,}",
                             f"{s.get('documents_kept', 0):,}"] for s in d["sources"]]) + [""]
    for r in _find(records, "pack"):
        lines += [f"Packed into {r.summary} ({r.details['validation_documents']:,} documents held out for "
                  "validation by text hash).", ""]
    return lines


def _recipe_section(recipe: Any, records: list[StageRecord]) -> list[str]:
    lines = ["## Training recipe", "", "| stage | type | time | result |", "|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r.name} | {r.type} | {r.seconds:.0f} s | {r.summary} |")
    for r in _find(records, "pretrain"):
        phases = ", ".join(f"{p['steps']} steps at length {p['length']}" for p in r.details["phases"])
        opts = r.options
        lines += ["", f"Pretraining (`{r.name}`): masked-LM ({opts['masking']} masking, {opts['mask_rate']:.0%})"
                  + (" + sentence order" if opts["sop"] else "") + f" from a fresh `{opts['model']}`; {phases}; "
                  f"batch {opts['batch_size']} x {opts['grad_accum']}, {opts['optimizer']}, peak lr {opts['lr']:g}."]
    lines += ["", "<details><summary>The recipe file</summary>", "", "```yaml", recipe.text.strip(), "```", "",
              "</details>", ""]
    return lines


def _evaluation_section(records: list[StageRecord]) -> list[str]:
    rows = evaluation_rows(records)
    if not rows:
        return []
    lines = ["## Evaluation", "", "Classification results are shown beside the majority-class baseline "
             "(the score of always predicting the most frequent training label).", ""]
    lines += _md_table(["stage", "task", "split", "metric", "value", "majority baseline"],
                       [[r["stage"], r["task"], r["split"], r["metric"], f"{r['value']:.2f}",
                         "" if r["baseline"] is None else f"{r['baseline']:.2f}"] for r in rows])
    warnings = [w for r in _task_models(records) for w in r.details.get("warnings", [])]
    return lines + [""] + [f"**Warning:** {w}" for w in warnings] + ([""] if warnings else [])


def _speed_section(records: list[StageRecord]) -> list[str]:
    speeds = [(name, s) for r in _find(records, "evaluate") for name, s in r.details["speed"].items()]
    if not speeds:
        return []
    lines = ["## Speed", "", f"Forward passes on random token ids, `torch` {speeds[0][1]['torch']}, CPU: "
             f"{cpu_name()} (measured by the recipe's evaluate stage; other work on the machine slows it).", ""]
    rows = []
    for name, s in speeds:
        for backend, figures in s["backends"].items():
            for key, figure in figures.items():
                rows.append([name, backend, s["length"], s["threads"], key[5:], f"{figure['sequences_per_s']:,.1f}",
                             f"{figure['ms_per_batch']:.2f}"])
    header = ["model", "backend", "length", "threads", "batch", "sequences/s", "ms/batch"]
    return lines + _md_table(header, rows) + [""]


def _export_section(records: list[StageRecord], own: str) -> list[str]:
    exported = [r.details[own] for r in _find(records, "export") if own in r.details]
    if not exported:
        return []
    lines = ["## ONNX", "", "Exported by the recipe's export stage and checked against PyTorch on random padded "
             "batches (`wellread classify/serve/bench --backend onnx` or `onnx-int8` use them):", ""]
    files = exported[0]["files"]
    rows = [[c["backend"], files.get("model_int8.onnx" if "int8" in c["backend"] else "model.onnx", ""),
             f"{c['max_abs_diff']:.1e}", f"{100 * c['top1_agreement']:.1f}%"] for c in exported[0]["checks"]]
    return lines + _md_table(["backend", "MB", "max abs logit difference", "top-1 agreement"], rows) + [""]


def _usage_section(folder: str, pipeline: str) -> list[str]:
    command = {
        "fill-mask": f'wellread fill-mask --model {folder} "the [MASK] of the story."',
        "text-classification": f'wellread classify --model {folder} "a text to classify"',
        "token-classification": f'wellread tag --model {folder} "John Smith flew to Paris."',
        "question-answering": f'wellread answer --model {folder} --question "Who?" --context "John did."',
    }.get(pipeline, f"wellread predict --model {folder} --input inputs.jsonl")
    auto = {"fill-mask": "AutoModelForMaskedLM", "text-classification": "AutoModelForSequenceClassification",
            "token-classification": "AutoModelForTokenClassification",
            "question-answering": "AutoModelForQuestionAnswering"}.get(pipeline, "AutoModel")
    return ["## How to use", "", "```bash", command, "```", "", "```python",
            "from transformers import AutoTokenizer, " + auto,
            f'tokenizer = AutoTokenizer.from_pretrained("{folder}")',
            f'model = {auto}.from_pretrained("{folder}")', "```", ""]


def run_card(opts: CardOptions, ctx: StageContext) -> StageResult:
    """README.md into every model folder of the earlier stages, and a copy of each in the stage folder."""
    outputs = {}
    for record in ctx.earlier:
        folder = record.outputs.get("finetuned") or record.outputs.get("model")
        if folder is None:
            continue
        text = render(ctx, opts, record, folder)
        (Path(folder) / "README.md").write_text(text, encoding="utf-8")
        (ctx.out / f"{record.name}.md").write_text(text, encoding="utf-8")
        outputs[f"card:{record.name}"] = str(Path(folder) / "README.md")
        print(f"  model card: {Path(folder) / 'README.md'}")
    return StageResult(outputs, f"{len(outputs)} model card(s)", {"cards": outputs})
