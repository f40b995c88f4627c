"""What the pipeline commands (classify, tag, answer, fill-mask, embed, predict) share: reading inputs, writing
outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wellread.infer.inputs import read_records
from wellread.infer.load import load_pipeline
from wellread.infer.options import EmbedOptions, PipelineCommandOptions
from wellread.infer.pipeline import Record
from wellread.models.folder import read_model_folder
from wellread.models.sentence import SentenceConfig, save_sentence_config


def run_pipeline(options: PipelineCommandOptions, task: str, **kwargs: Any) -> int:
    """Load the pipeline, run every input (`options.inputs`, then the `options.input` files, else stdin) through it,
    write one JSON line per input in input order. `kwargs`: the task's pipeline options."""
    pipe = load_pipeline(options.model, task, options.backend, options.batch_size, options.max_length,
                         options.onnx_dir, **kwargs)
    found = read_records(options.inputs, options.input, pipe.fields)
    records = [pipe.parse(record, where) for where, record in found]
    write_outputs(pipe(records), [where for where, _ in found], options.output, pipe.backend.name)
    return 0


def write_outputs(outputs: Sequence[Record], wheres: Sequence[str], output: Path | None, backend: str) -> None:
    """One JSON line per output to `output` (or stdout); the first notes on stderr, each naming its input's place."""
    lines = [json.dumps(o, ensure_ascii=False) for o in outputs]
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        print(f"{len(lines)} outputs written to {output} ({backend})", file=sys.stderr)
    else:
        print("\n".join(lines))
    noted = [(where, o["note"]) for where, o in zip(wheres, outputs, strict=True) if "note" in o]
    for where, note in noted[:5]:
        print(f"note: {where}: {note}", file=sys.stderr)
    if len(noted) > 5:
        print(f"note: {len(noted) - 5} more inputs have notes (see their \"note\" field)", file=sys.stderr)


def run_embed(options: EmbedOptions) -> int:
    """`wellread embed`: with --save-pooling, first store the pooling and normalisation in the model folder (the
    sentence-transformers layout); then one JSON line per input (`run_pipeline`)."""
    normalize = None if options.normalize else False
    if options.save_pooling:
        folder = read_model_folder(options.model)
        chosen = SentenceConfig(options.pooling or folder.sentence.pooling,
                                folder.sentence.normalize if normalize is None else normalize,
                                folder.sentence.max_length)
        save_sentence_config(folder.path, chosen, folder.config.hidden_size)
    return run_pipeline(options, "embed", pooling=options.pooling, normalize=normalize)
