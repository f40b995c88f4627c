"""The export stage: model.onnx (and model_int8.onnx) in each model folder, checked against PyTorch."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from wellread.errors import WellreadError
from wellread.recipe import options as o
from wellread.recipe.base import StageContext, StageResult


def run_export(opts: o.ExportOptions, ctx: StageContext) -> StageResult:
    """`wellread export --onnx [--int8]` on every fine-tuned model folder (else the latest pretrained one)."""
    from wellread.infer.export import export_folder
    from wellread.infer.load import TASK_HEADS, pipeline_task
    from wellread.models.checkpoint import load_model
    from wellread.models.folder import read_model_folder

    targets = [r for r in ctx.earlier if "finetuned" in r.outputs]
    targets = targets or [r for r in ctx.earlier if "model" in r.outputs][-1:]
    if not targets:
        raise WellreadError("nothing to export: put a pretrain, fine-tune or distill stage before the export stage")
    outputs, details = {}, {}
    for record in targets:
        folder = Path(record.outputs.get("finetuned") or record.outputs["model"])
        model_folder = read_model_folder(folder)
        model, _ = load_model(model_folder, TASK_HEADS[pipeline_task(model_folder)])
        report = export_folder(model.eval(), folder, source=folder, int8=opts.int8)
        for agreement in report:
            print(f"  {record.name}: {agreement.line()}")
        if not all(a.ok for a in report):
            raise WellreadError(f"the ONNX export of {folder} does not agree with PyTorch (see onnx_check.json)")
        files = sorted(folder.glob("model*.onnx"))
        outputs.update({f"onnx:{record.name}:{f.name}": str(f) for f in files})
        details[record.name] = {"files": {f.name: round(f.stat().st_size / 1e6, 2) for f in files},
                                "checks": [asdict(a) for a in report]}
    count = len(outputs)
    return StageResult(outputs, f"{count} ONNX file(s) in {len(targets)} model folder(s), checked against PyTorch",
                       details)
