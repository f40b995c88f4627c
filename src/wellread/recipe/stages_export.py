"""The export stage: model.onnx (and model_int8.onnx) in each model folder, checked against PyTorch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from wellread.errors import WellreadError
from wellread.infer.options import ExportOptions
from wellread.options import option
from wellread.recipe.base import StageContext, StageResult


@dataclass(kw_only=True)
class ExportStageOptions(ExportOptions):
    """ONNX export of each task model (else the latest pretrained one) into its own folder, where `wellread
    classify/serve/bench --backend onnx` find it; each file is checked against PyTorch. The options of `wellread
    export`, but a recipe writes model_int8.onnx unless told not to (the command only when asked)."""

    int8: bool = option(True, help="also write model_int8.onnx (dynamic int8 quantization of the matrix products)")


def run_export(opts: ExportStageOptions, ctx: StageContext) -> StageResult:
    """`export()` (what `wellread export` runs) on every fine-tuned model folder (else the latest pretrained one)."""
    from wellread.infer.export import export

    targets = [r for r in ctx.earlier if "finetuned" in r.outputs]
    targets = targets or [r for r in ctx.earlier if "model" in r.outputs][-1:]
    if not targets:
        raise WellreadError("nothing to export: put a pretrain, fine-tune or distill stage before the export stage")
    outputs, details = {}, {}
    for record in targets:
        folder = Path(record.outputs.get("finetuned") or record.outputs["model"])
        done = export(replace(opts, model=str(folder), out=folder))
        for agreement in done.checks:
            print(f"  {record.name}: {agreement.line()}")
        if not done.ok:
            raise WellreadError(f"the ONNX export of {folder} does not agree with PyTorch (see onnx_check.json)")
        outputs.update({f"onnx:{record.name}:{f.name}": str(f) for f in done.files})
        details[record.name] = {"files": {f.name: round(f.stat().st_size / 1e6, 2) for f in done.files},
                                "checks": [asdict(a) for a in done.checks]}
    count = len(outputs)
    return StageResult(outputs, f"{count} ONNX file(s) in {len(targets)} model folder(s), checked against PyTorch",
                       details)
