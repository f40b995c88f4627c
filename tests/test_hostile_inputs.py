"""Issue #20, items 1, 3 and 9: no silent wrong answers, one-line errors.

- A model whose config.json and weights disagree (id2label edited from 5 labels to 2, a masked-LM checkpoint under
  a classifier config) is refused by inference, naming the weights and the folder; fine-tuning still reports.
- An unknown label in a dev file is a bad row (file:line), or skipped with --skip-bad-rows and counted in
  results.json.
- Pickled weights, a truncated model.onnx, an unwritable output, a missing `owner/name` folder, non-UTF-8 input and
  empty texts are one-line errors naming the file (and line, or record), exit status 2.

The CLI tests run `python -m wellread.cli` in a subprocess (marked slow): exit status 2, one line on stderr, no
traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import run_cli, tiny_config, write, write_sst2
from infer_models import make_models
from safetensors.torch import save_file

from wellread.cli import os_error_message
from wellread.config import load_config
from wellread.distill.data import read_transfer
from wellread.errors import CheckpointError, DataError, WellreadError
from wellread.finetune.data import load_task_data
from wellread.finetune.run import load_for_task
from wellread.infer import load_pipeline
from wellread.infer.backends import load_backend
from wellread.infer.inputs import read_records
from wellread.models import build_model
from wellread.models.checkpoint import load_model, read_state_dict, save_model
from wellread.models.folder import read_model_folder, resolve_model_dir
from wellread.tasks import DataWarning, load_custom

SRC = Path(__file__).resolve().parents[1] / "src"
FIVE = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tok) -> dict[str, Path]:
    return make_models(tmp_path_factory.mktemp("hostile"), tok)


def relabel(folder: Path, labels: list[str], architecture: str | None = None) -> Path:
    """Edit config.json's id2label/label2id (and architectures) as a user might, leaving the weights as they are."""
    data = json.loads((folder / "config.json").read_text())
    data["id2label"] = {str(i): label for i, label in enumerate(labels)}
    data["label2id"] = {label: i for i, label in enumerate(labels)}
    if architecture:
        data["architectures"] = [architecture]
    (folder / "config.json").write_text(json.dumps(data))
    return folder


@pytest.fixture(scope="module")
def edited(tmp_path_factory, tok) -> dict[str, Path]:
    """Folders whose config.json no longer fits their weights."""
    root = tmp_path_factory.mktemp("edited")
    torch.manual_seed(0)
    config = tiny_config(tok.vocab_size).with_labels(FIVE)
    five = save_model(build_model(config, "sequence-classification"), root / "five", tok)
    two = save_model(build_model(config, "sequence-classification"), root / "two", tok)
    relabel(two, ["negative", "positive"])
    mlm = save_model(build_model(tiny_config(tok.vocab_size), "masked-lm"), root / "mlm", tok)
    relabel(mlm, ["negative", "positive"], "BertForSequenceClassification")
    return {"five": five, "two": two, "mlm": mlm}


def cli(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`python -m wellread.cli ARGS` in a subprocess: (exit status, stderr)."""
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "wellread.cli", *map(str, args)], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=300)
    return done.returncode, done.stderr


def assert_one_line_error(status: int, stderr: str, *fragments: str) -> None:
    lines = stderr.strip().splitlines()
    assert status == 2, stderr
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --- 1. a head that would be newly initialised ------------------------------------------------------------------


def test_inference_refuses_a_classifier_whose_labels_were_edited(edited) -> None:
    with pytest.raises(CheckpointError) as err:
        load_pipeline(edited["two"], backend="torch")
    message = str(err.value)
    assert str(edited["two"]) in message
    assert "classifier.weight checkpoint (5, 32) vs config (2, 32)" in message and "classifier.bias" in message
    for backend in ("auto", "torch", "torch-bf16"):
        with pytest.raises(CheckpointError, match="randomly initialised"):
            load_backend(read_model_folder(edited["two"]), "sequence-classification", backend)
    assert load_pipeline(edited["five"], backend="torch")(["fine"])[0]["label"] in FIVE  # a consistent folder loads


def test_inference_refuses_a_masked_lm_checkpoint_under_a_classifier_config(edited) -> None:
    with pytest.raises(CheckpointError) as err:
        load_pipeline(edited["mlm"], backend="torch")
    message = str(err.value)
    assert str(edited["mlm"]) in message and "not in the checkpoint" in message
    assert "classifier.weight" in message and "bert.pooler.dense.weight" in message


def test_a_folder_loaded_as_itself_must_be_complete_fine_tuning_still_reports(edited) -> None:
    with pytest.raises(CheckpointError, match="classifier.weight"):
        load_model(edited["two"])  # its own head and labels: export, bench, evaluate and search load so
    model, report = load_model(edited["two"], labels=["x", "y", "z"])  # fine-tuning a new label set
    assert sorted(report.reinitialized) == ["classifier.bias", "classifier.weight"]
    assert model.classifier.out_features == 3
    _, report = load_model(edited["mlm"], "sequence-classification", labels=["n", "p"])
    assert "classifier.weight" in report.initialized  # a new head on an encoder: reported, as before


def test_a_bare_encoder_saved_without_its_pooler_still_loads(tmp_path, tok) -> None:
    folder = save_model(build_model(tiny_config(tok.vocab_size), "base"), tmp_path / "base", tok)
    state = {k: v for k, v in read_state_dict(folder).items() if not k.startswith("pooler.")}
    save_file(state, folder / "model.safetensors")
    _, report = load_model(folder)
    assert sorted(report.initialized) == ["pooler.dense.bias", "pooler.dense.weight"]


def test_a_teacher_must_load_complete_a_student_may_get_a_new_head(edited, tmp_path, capsys) -> None:
    data = load_task_data("sst2", [write_sst2(tmp_path / "sst2")])
    folder = tmp_path / "teacher"
    shutil.copytree(edited["five"], folder)
    relabel(folder, ["0", "1"])  # SST-2's labels, over a 5-label classifier
    with pytest.raises(CheckpointError, match="classifier.weight checkpoint"):
        load_for_task(str(folder), data, quiet=True, complete=True)  # how distillation loads a teacher
    load_for_task(str(folder), data)  # a student: the re-initialised head is reported
    reported = capsys.readouterr().out
    assert "head weights of another shape (re-initialised): classifier.bias, classifier.weight" in reported


def test_export_refuses_an_edited_head(edited, capsys) -> None:
    assert run_cli("export", edited["two"], "--onnx") == 2
    assert "classifier.weight checkpoint (5, 32) vs config (2, 32)" in capsys.readouterr().err
    assert not (edited["two"] / "model.onnx").exists()


@pytest.mark.slow
def test_classify_cli_refuses_an_edited_head(edited) -> None:
    status, stderr = cli("classify", "--model", edited["two"], "a fine film")
    assert_one_line_error(status, stderr, str(edited["two"]), "classifier.weight checkpoint (5, 32) vs config (2, 32)")


# --- 9. weights, ONNX files, model folders ----------------------------------------------------------------------


class Planted:
    """Unpickling this would run `touch`: a planted payload."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def pickled_folder(models: dict[str, Path], root: Path) -> tuple[Path, Path]:
    """A copy of the classifier with pytorch_model.bin holding its weights and a planted object; the file the
    object would create."""
    folder = root / "pickled"
    folder.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (models["classify"] / name).is_file():
            (folder / name).write_bytes((models["classify"] / name).read_bytes())
    marker = root / "pwned"
    torch.save({**read_state_dict(models["classify"]), "extra": Planted(marker)}, folder / "pytorch_model.bin")
    return folder, marker


def test_pickled_weights_are_refused_naming_the_file_and_never_run(models, tmp_path) -> None:
    folder, marker = pickled_folder(models, tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_model(folder)
    assert f"{folder / 'pytorch_model.bin'} holds Python objects besides tensors" in str(err.value)
    assert "\n" not in str(err.value) and not marker.exists()


def test_a_truncated_onnx_file_is_named(models, tmp_path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x04torch\x3a\xff\xff\xff")  # cut off inside the graph
    with pytest.raises(WellreadError) as err:
        load_pipeline(models["classify"], backend="onnx", onnx_dir=tmp_path)
    message = str(err.value)
    assert f"ONNX Runtime cannot load {tmp_path / 'model.onnx'}" in message and "\n" not in message
    assert "wellread export --onnx" in message


def test_a_missing_folder_shaped_like_a_hub_id_names_the_local_path(tmp_path, monkeypatch) -> None:
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co'.\nCheck your connection.")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as err:
        resolve_model_dir("runs/sst2")
    message = str(err.value)
    assert f"no local folder {tmp_path / 'runs' / 'sst2'}" in message and "hub could not provide it" in message
    assert "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("case", ["pickle", "onnx", "hub-shaped"])
def test_model_errors_are_one_line_through_the_cli(case, models, tmp_path) -> None:
    if case == "pickle":
        folder, marker = pickled_folder(models, tmp_path)
        status, stderr = cli("classify", "--model", folder, "a film")
        assert_one_line_error(status, stderr, str(folder / "pytorch_model.bin"), "weights_only")
        assert not marker.exists()
    elif case == "onnx":
        (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x04torch\x3a\xff\xff\xff")
        status, stderr = cli("classify", "--model", models["classify"], "--backend", "onnx", "--onnx-dir", tmp_path,
                             "a film")
        assert_one_line_error(status, stderr, str(tmp_path / "model.onnx"), "InvalidProtobuf")
    else:
        status, stderr = cli("classify", "--model", "runs/sst2", "a film", cwd=tmp_path,
                             env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
        assert_one_line_error(status, stderr, f"no local folder {tmp_path / 'runs' / 'sst2'}")


# --- 9. unwritable outputs ----------------------------------------------------------------------------------------


def test_os_errors_about_files_and_disks_become_one_line() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", "/ro/out/model.safetensors")
    assert os_error_message(denied) == "/ro/out/model.safetensors: Permission denied"
    under = NotADirectoryError(errno.ENOTDIR, "Not a directory", "notes.txt/out")
    assert os_error_message(under) == "notes.txt/out: Not a directory (a file where a folder is needed?)"
    full = OSError(errno.ENOSPC, "No space left on device")
    assert os_error_message(full, Path("runs/x")) == (
        "the disk is full while writing under runs/x (No space left on device)")
    assert "read-only" in os_error_message(OSError(errno.EROFS, "Read-only file system"))
    assert os_error_message(OSError(errno.EBADF, "Bad file descriptor")) is None  # a bug: keeps its traceback


def test_out_under_a_file_is_one_line(models, tmp_path, capsys) -> None:
    blocker = write(tmp_path / "notes.txt", "a file, not a folder")
    assert run_cli("classify", "--model", models["classify"], "--output", blocker / "labels.jsonl", "a film") == 2
    assert capsys.readouterr().err.strip() == (
        f"wellread classify: error: {blocker}: File exists (a file where a folder is needed?)")
    data = write_sst2(tmp_path / "sst2")
    assert run_cli("finetune", "--model", models["classify"], "--task", "sst2", "--data", data,
                   "--out", blocker / "run", "--max-steps", "1") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wellread finetune: error: ") and str(blocker) in err and "\n" not in err


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
def test_a_full_disk_is_one_line_through_the_cli(models) -> None:
    status, stderr = cli("classify", "--model", models["classify"], "--output", "/dev/full", "a film")
    assert_one_line_error(status, stderr, "the disk is full", "No space left on device")


# --- 9. input text: UTF-8 lines and empty texts -------------------------------------------------------------------


def bad_utf8(path: Path, lines: list[str], bad_line: int) -> Path:
    """`lines` written as UTF-8, except line `bad_line` (1-based), which gets a Latin-1 "é" (byte 0xe9)."""
    data = [line.encode() for line in lines]
    data[bad_line - 1] = data[bad_line - 1].replace(b"e", b"\xe9", 1)
    path.write_bytes(b"\n".join(data) + b"\n")
    return path


def test_non_utf8_is_reported_at_its_line_in_csv_tsv_and_jsonl(tmp_path) -> None:
    rows = [f"a long enough sentence number {i} to fill the read buffer" for i in range(400)]  # > 8 KiB first
    csv_file = bad_utf8(tmp_path / "dev.csv", ["text,label", *(f"{r},pos" for r in rows)], 301)
    with pytest.raises(DataError, match=rf"^{csv_file}:301: not valid UTF-8 \(byte 0xe9 at column 8\)"):
        load_custom(csv_file)
    jsonl = bad_utf8(tmp_path / "dev.jsonl", [json.dumps({"text": r, "label": "pos"}) for r in rows], 250)
    with pytest.raises(DataError, match=rf"^{jsonl}:250: not valid UTF-8"):
        load_custom(jsonl)
    tsv = bad_utf8(tmp_path / "dev.tsv", ["sentence\tlabel", *(f"{r}\t1" for r in rows)], 333)
    with pytest.raises(DataError, match=rf"^{tsv}:333: not valid UTF-8"):
        load_task_data("sst2", [f"train={tsv}", f"dev={tsv}"])
    lines = bad_utf8(tmp_path / "in.txt", rows, 399)
    with pytest.raises(DataError, match=rf"^{lines}:399: not valid UTF-8"):
        read_records([], [str(lines)], ("text",))  # inference inputs
    with pytest.raises(DataError, match=rf"^{lines}:399: not valid UTF-8"):
        read_transfer([lines], "sst2")  # a distillation transfer set


def test_predict_reports_non_utf8_csv_at_its_line(models, tmp_path, capsys) -> None:
    rows = [f"a long enough sentence number {i} to fill the read buffer" for i in range(400)]
    csv_file = bad_utf8(tmp_path / "in.csv", ["text,id", *(f"{r},{i}" for i, r in enumerate(rows))], 301)
    assert run_cli("predict", "--model", models["classify"], "--input", csv_file) == 2
    assert capsys.readouterr().err.startswith(f"wellread predict: error: {csv_file}:301: not valid UTF-8")


def test_empty_whitespace_and_unencodable_texts_are_refused_naming_the_record(models) -> None:
    pipe = load_pipeline(models["classify"], backend="torch")
    with pytest.raises(WellreadError, match=r"^input 2: field 'text' is empty"):
        pipe(["fine", ""])
    with pytest.raises(WellreadError, match=r"^input 1: field 'text' is only whitespace"):
        pipe([" \t\n"])
    with pytest.raises(WellreadError, match=r"^input 1: field 'text_pair' is only whitespace"):
        pipe([{"text": "fine", "text_pair": "  "}])
    with pytest.raises(WellreadError, match=r"^input 1: field 'text' is not valid Unicode text: a lone surrogate"):
        pipe(["bad \ud800 text"])
    tagger = load_pipeline(models["tag"], backend="torch")
    with pytest.raises(WellreadError, match="^input 1: field 'tokens' must be a list of non-empty strings"):
        tagger([{"tokens": [" "]}])
    with pytest.raises(WellreadError, match=r"^input 1: field 'text' is empty"):
        tagger([{"tokens": []}])
    answer = load_pipeline(models["answer"], backend="torch")
    with pytest.raises(WellreadError, match=r"^input 1: field 'context' is only whitespace"):
        answer([{"question": "who?", "context": " "}])


@pytest.mark.slow
def test_cli_input_errors_are_one_line(models, tmp_path) -> None:
    status, stderr = cli("classify", "--model", models["classify"], "fine", "   ")
    assert_one_line_error(status, stderr, "argument 2: field 'text' is only whitespace")
    jsonl = bad_utf8(tmp_path / "in.jsonl", [json.dumps({"text": f"sentence {i}"}) for i in range(5)], 4)
    status, stderr = cli("predict", "--model", models["classify"], "--input", jsonl)
    assert_one_line_error(status, stderr, f"{jsonl}:4: not valid UTF-8")


# --- 3. unknown labels in evaluation files --------------------------------------------------------------------------


def custom_files(root: Path) -> list[str]:
    train = write(root / "train.csv", "text,label\n" + "".join(
        f"sentence {i},{'positive' if i % 2 else 'negative'}\n" for i in range(12)))
    dev = write(root / "dev.csv", "text,label\ngood,positive\nso-so,neutral\nbad,negative\n")
    return [f"train={train}", f"dev={dev}"]


def test_an_unknown_dev_label_is_a_bad_row_or_skipped_and_counted(tmp_path) -> None:
    files = custom_files(tmp_path)
    with pytest.raises(DataError) as err:
        load_task_data("custom", files)
    assert f"{tmp_path / 'dev.csv'}:3: unknown label 'neutral'" in str(err.value)
    with pytest.warns(DataWarning, match="skipped 1 bad row"):
        data = load_task_data("custom", files, skip_bad_rows=True)
    assert [ex.label for ex in data.evals["custom"]] == ["positive", "negative"]
    assert data.labels == ["negative", "positive"]
    assert data.skipped_rows == {"dev": {"file": str(tmp_path / "dev.csv"), "rows": 1,
                                         "first": ["line 3: unknown label 'neutral' in 'label' (labels: negative, "
                                                   "positive)"]}}
    assert "(bad rows skipped: 1 in dev)" in data.describe()


def test_an_unknown_dev_tag_is_a_bad_row_or_skipped_and_counted(tmp_path) -> None:
    train = write(tmp_path / "train.txt", "".join(f"Paris B-LOC\nis O\nnice{i} O\n\n" for i in range(4)))
    dev = write(tmp_path / "dev.txt", "Rome B-LOC\nis O\n\nAda B-PER\nwrote O\n\n")
    files = [f"train={train}", f"dev={dev}"]
    with pytest.raises(DataError) as err:
        load_task_data("ner", files)
    assert f"{dev}:4: tag(s) B-PER not among the labels (O, B-LOC, I-LOC)" in str(err.value)
    with pytest.warns(DataWarning, match="skipped 1 bad row"):
        data = load_task_data("ner", files, skip_bad_rows=True)
    assert [s.tokens for s in data.evals["ner"]] == [["Rome", "is"]]
    assert data.skipped_rows["dev"]["rows"] == 1


@pytest.mark.slow
def test_skipped_rows_are_counted_in_results_json(models, tmp_path) -> None:
    files = custom_files(tmp_path)
    train = Path(files[0].split("=", 1)[1])
    train.write_text(train.read_text() + "sentence 99,\n")  # an empty label: a bad training row
    out = tmp_path / "run"
    with pytest.warns(DataWarning, match="skipped 1 bad row"):
        status = run_cli("finetune", "--model", models["classify"], "--task", "custom", "--data", *files,
                         "--out", out, "--max-steps", "1", "--batch-size", "4", "--skip-bad-rows")
    assert status == 0
    results = json.loads((out / "results.json").read_text())
    assert {split: s["rows"] for split, s in results["skipped_rows"].items()} == {"train": 1, "dev": 1}
    assert results["details"]["custom"]["examples"] == 2  # the neutral row is not scored
    assert load_config(out).id2label == {0: "negative", 1: "positive"}
