"""ONNX export: every head agrees with PyTorch to tolerance at batch sizes and lengths other than the traced ones,
pipelines on the ONNX backends give PyTorch's answers, int8 stays close, and the export and bench commands run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from infer_models import make_models

from wellread.cli import main
from wellread.errors import WellreadError
from wellread.infer import TASK_HEADS, load_pipeline
from wellread.infer.backends import OnnxBackend, pipeline_model
from wellread.infer.bench import measure, plot, table
from wellread.infer.export import check_agreement, export_folder, export_onnx
from wellread.infer.load import pipeline_task
from wellread.models.checkpoint import load_model, save_model
from wellread.models.fingerprint import fingerprint
from wellread.models.folder import read_model_folder

pytestmark = pytest.mark.slow  # every test exports ONNX models (seconds each)

TEXTS = ["a gripping , funny film", "dull", "two hours of my life i will not get back , sadly", "ok ok ok"]


def own_model(folder: Path) -> torch.nn.Module:
    """The model a folder's pipeline runs (and its export traces): its head model, or a bare encoder's states."""
    found = read_model_folder(folder)
    return pipeline_model(found, TASK_HEADS[pipeline_task(found)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tok) -> dict[str, Path]:
    """The tiny models, each with model.onnx and model_int8.onnx beside its weights."""
    models = make_models(tmp_path_factory.mktemp("onnx"), tok)
    for folder in models.values():
        model = own_model(folder)
        report = export_folder(model, folder, source=folder, int8=True)
        assert report[0].ok, report[0].line()
    return models


@pytest.mark.parametrize("name", ["classify", "regression", "tag", "answer", "fill-mask", "embed"])
def test_onnx_agrees_with_pytorch(exported, name: str) -> None:
    model = own_model(exported[name])
    fp32 = check_agreement(model, exported[name] / "model.onnx", "onnx")
    assert fp32.max_abs_diff < 1e-4 and fp32.top1_agreement == 1.0
    int8 = check_agreement(model, exported[name] / "model_int8.onnx", "onnx-int8", tolerance=None)
    assert int8.max_abs_diff < 0.2 * max(1.0, int8.max_abs_logit) and int8.top1_agreement > 0.8
    saved = json.loads((exported[name] / "onnx_check.json").read_text())
    assert [entry["backend"] for entry in saved["checks"]] == ["onnx", "onnx-int8"] and saved["checks"][0]["ok"]
    assert saved["fingerprint"] == fingerprint(exported[name])


def test_dynamic_axes_accept_any_batch_and_length(exported) -> None:
    backend = OnnxBackend(exported["tag"] / "model.onnx")
    for batch, length in ((1, 3), (5, 100)):
        ids = torch.randint(1000, 2000, (batch, length))
        logits = backend.forward({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                                  "token_type_ids": torch.zeros_like(ids)})
        assert tuple(logits.shape) == (batch, length, 5)


@pytest.mark.parametrize("name", ["classify", "tag", "answer", "fill-mask"])
def test_pipelines_on_onnx_give_pytorch_answers(exported, name: str) -> None:
    inputs = {"answer": [{"question": "who is funny ?", "context": t} for t in TEXTS],
              "fill-mask": [t + " [MASK] ." for t in TEXTS]}.get(name, TEXTS)
    reference = load_pipeline(exported[name], backend="torch", batch_size=3)(inputs)
    onnx = load_pipeline(exported[name], backend="onnx", batch_size=3)(inputs)
    for a, b in zip(reference, onnx, strict=True):
        assert a.keys() == b.keys()
        if name == "classify":
            assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-4)
        elif name == "tag":
            assert [w["tag"] for w in a["words"]] == [w["tag"] for w in b["words"]]
        elif name == "answer":
            assert (a["answer"], a["start"]) == (b["answer"], b["start"])
        else:
            assert [p["token"] for p in a["predictions"][0]] == [p["token"] for p in b["predictions"][0]]


def test_export_and_bench_commands(tok, tmp_path: Path, capsys, monkeypatch) -> None:
    folder = make_models(tmp_path / "models", tok)["classify"]
    out = tmp_path / "onnx"
    assert main(["export", str(folder), "--onnx", "--int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "OK" in printed and (out / "model.onnx").is_file() and (out / "model_int8.onnx").is_file()
    assert f"written to {out}: model.onnx, model_int8.onnx, onnx_check.json" in printed
    assert main(["classify", "--model", str(folder), "--backend", "onnx-int8", "--onnx-dir", str(out), "fine"]) == 0
    assert "label" in json.loads(capsys.readouterr().out.splitlines()[-1])
    backend = OnnxBackend(out / "model.onnx")
    rows = measure(backend, 30522, [8, 16], seconds=0.05, min_repeats=2, batch_size=4)
    assert [r.length for r in rows] == [8, 16] and all(r.p95_ms >= r.p50_ms > 0 and r.throughput > 0 for r in rows)
    assert "| onnx | 16 |" in table(rows)
    assert plot(rows, tmp_path / "bench.png", "tiny").stat().st_size > 1000
    monkeypatch.setenv("WELLREAD_PEAK", "1e9")  # MFU against a given peak: no probe under tests
    assert main(["bench", str(folder), "--backends", "torch,onnx-int8", "--lengths", "8,16", "--seconds", "0.01",
                 "--batch-size", "2", "--onnx-dir", str(out), "--out", str(tmp_path / "bench")]) == 0
    saved = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert [(r["backend"], r["length"]) for r in saved["rows"]] == [("torch", 8), ("torch", 16), ("onnx-int8", 8),
                                                                    ("onnx-int8", 16)]
    assert all(r["mfu"] > 0 for r in saved["rows"])
    assert "exporting" not in capsys.readouterr().out  # the files in --onnx-dir were used


def test_onnx_of_other_weights_or_labels_is_refused(tok, tmp_path: Path) -> None:
    folder = make_models(tmp_path / "models", tok)["classify"]
    model, _ = load_model(folder)
    export_folder(model, folder, source=folder)
    assert load_pipeline(folder, backend="onnx")(["fine"])  # fresh: served
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {k: f"new-{v}" for k, v in config["id2label"].items()}  # same count, new labels
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(WellreadError, match="model.onnx was exported from other weights.*export --onnx"):
        load_pipeline(folder, backend="onnx")
    model, _ = load_model(folder)
    with torch.no_grad():
        model.classifier.bias.add_(1.0)
    save_model(model, folder)  # new weights: still stale
    with pytest.raises(WellreadError, match="stale"):
        load_pipeline(folder, backend="onnx")
    export_folder(model, folder, source=folder)
    assert load_pipeline(folder, backend="onnx")(["fine"])[0]["label"].startswith("new-")
    onnx = tmp_path / "unstamped"
    export_onnx(model, onnx / "model.onnx")  # no fingerprint recorded
    with pytest.raises(WellreadError, match="records no fingerprint"):
        load_pipeline(folder, backend="onnx", onnx_dir=onnx)


def test_bench_times_a_bare_encoder_exporting_it_first(tok, tmp_path: Path, monkeypatch) -> None:
    folder = make_models(tmp_path / "models", tok)["embed"]
    monkeypatch.setenv("WELLREAD_PEAK", "off")
    assert main(["bench", str(folder), "--backends", "torch,onnx", "--lengths", "8", "--seconds", "0.01",
                 "--batch-size", "2", "--out", str(tmp_path / "bench")]) == 0
    saved = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert [r["backend"] for r in saved["rows"]] == ["torch", "onnx"]
