"""Checkpoint I/O: the real all-MiniLM-L6-v2 checkpoint, prefixes, head reports and bad input."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import transformers as hf

from wellread.config import load_config, preset
from wellread.errors import CheckpointError, ConfigError
from wellread.models import build_model
from wellread.models.checkpoint import load_model, read_state_dict, save_model
from wellread.models.folder import read_model_folder
from wellread.models.length import LengthConfig

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A compact BERT runs well on a laptop CPU.",
    "Hello!",
    "Distillation transfers what a large teacher knows into a small student model, layer by layer.",
]


def test_real_minilm_loads_and_matches_transformers(minilm_path) -> None:
    ours, report = load_model(minilm_path)
    assert report.unused == [] and report.initialized == [] and report.reinitialized == []
    assert report.ignored == ["embeddings.position_ids"]  # legacy buffer kept by old transformers
    theirs = hf.BertModel.from_pretrained(minilm_path).eval()
    tok = hf.BertTokenizerFast.from_pretrained(minilm_path)
    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    assert (enc["attention_mask"] == 0).any()  # the batch is padded
    with torch.no_grad():
        a = ours(enc["input_ids"], enc["attention_mask"], enc["token_type_ids"], output_hidden_states=True)
        b = theirs(**enc, output_hidden_states=True)
    real = enc["attention_mask"].bool()  # padded positions carry no meaning (and differ by ~3e-5 there)
    for x, y in zip(a.hidden_states, b.hidden_states, strict=True):
        assert (x - y)[real].abs().max().item() <= 1e-5
    assert (a.pooler_output - b.pooler_output).abs().max().item() <= 1e-5


def test_bare_encoder_checkpoint_feeds_a_head_model(minilm_path) -> None:
    model, report = load_model(minilm_path, "sequence-classification", labels=["neg", "pos"])
    assert sorted(report.initialized) == ["classifier.bias", "classifier.weight"]
    assert model.config.id2label == {0: "neg", 1: "pos"}
    mlm, report = load_model(minilm_path, "masked-lm")
    assert sorted(report.unused) == ["bert.pooler.dense.bias", "bert.pooler.dense.weight"]
    assert sorted(report.initialized) == sorted(["cls.predictions.bias", "cls.predictions.transform.dense.weight",
                                  "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                                  "cls.predictions.transform.LayerNorm.bias"])


def test_head_checkpoint_into_bare_encoder_and_new_label_count(tmp_path) -> None:
    config = preset("tiny").replace(num_hidden_layers=1, vocab_size=200)
    save_model(build_model(config.with_labels(["a", "b"]), "sequence-classification"), tmp_path / "cls")
    base, report = load_model(tmp_path / "cls", "base")
    assert sorted(report.unused) == ["classifier.bias", "classifier.weight"]
    three, report = load_model(tmp_path / "cls", labels=["a", "b", "c"])
    assert sorted(report.reinitialized) == ["classifier.bias", "classifier.weight"]
    assert three.classifier.out_features == 3
    assert json.loads((tmp_path / "cls" / "config.json").read_text())["architectures"] == [
        "BertForSequenceClassification"]


def test_model_folder_is_read_once_with_head_labels_and_length_config(tmp_path) -> None:
    config = preset("tiny").replace(num_hidden_layers=2, vocab_size=200)
    model = build_model(config.with_labels(["neg", "pos"]), "sequence-classification")
    model.length_config = LengthConfig((1.0, 0.5))
    save_model(model, tmp_path)
    folder = read_model_folder(tmp_path)
    assert (folder.head, folder.labels, folder.regression) == ("sequence-classification", ("neg", "pos"), False)
    assert folder.length_config == LengthConfig((1.0, 0.5))
    assert folder.named_labels("sequence-classification") == ["neg", "pos"]
    assert folder.named_labels("token-classification") is None
    loaded, _ = load_model(folder)  # no second read: the folder's config, the model's own copy
    assert loaded.length_config == folder.length_config and loaded.config is not folder.config
    loaded.config.extra["changed"] = True
    assert "changed" not in folder.config.extra
    data = json.loads((tmp_path / "config.json").read_text())
    data["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
    (tmp_path / "config.json").write_text(json.dumps(data | {"architectures": ["BertForMultipleChoice"]}))
    other = read_model_folder(tmp_path)
    assert other.head is None and other.head_name == "BertForMultipleChoice"
    assert other.named_labels("sequence-classification") is None
    with pytest.raises(ConfigError, match="'BertForMultipleChoice' is not one wellread implements"):
        load_model(other)
    assert load_model(other, "base")[0].config.num_hidden_layers == 2  # the encoder loads under any head


def test_pytorch_model_bin_is_read_with_weights_only(tmp_path) -> None:
    config = preset("tiny").replace(num_hidden_layers=1, vocab_size=200)
    model = build_model(config, "base")
    save_model(model, tmp_path)
    state = read_state_dict(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(state, tmp_path / "pytorch_model.bin")
    loaded, _ = load_model(tmp_path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


def test_folder_without_config(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no config.json"):
        load_model(tmp_path)


def test_missing_folder_is_not_a_hub_lookup(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no model folder"):
        load_model(tmp_path / "nothing" / "here")


def test_unknown_model_type(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_size": 8}))
    with pytest.raises(ConfigError, match="model_type 'roberta' is not supported"):
        load_model(tmp_path)


def test_invalid_config_values(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 100, "num_attention_heads": 3}))
    with pytest.raises(ConfigError, match="not a multiple of num_attention_heads"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path)


def test_shapes_that_do_not_match_the_config(tmp_path, minilm_path) -> None:
    shutil.copy(minilm_path / "model.safetensors", tmp_path)
    config = json.loads((minilm_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "hidden_size": 768, "num_hidden_layers": 5}))
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path)
    message = str(err.value)
    assert "unexpected encoder weights: encoder.layer.5." in message
    assert "embeddings.word_embeddings.weight checkpoint (30522, 384) vs config (30522, 768)" in message


def test_folder_without_weights(tmp_path) -> None:
    preset("tiny").save(tmp_path)
    with pytest.raises(CheckpointError, match="has no weights"):
        load_model(tmp_path)


def test_corrupt_weight_file(tmp_path) -> None:
    preset("tiny").save(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_model(tmp_path)


def test_config_round_trips_unknown_fields(tmp_path, minilm_path) -> None:
    config = load_config(minilm_path)
    config.save(tmp_path)
    original = json.loads((minilm_path / "config.json").read_text())
    written = json.loads((tmp_path / "config.json").read_text())
    assert written == original


def test_hub_ids_resolve_through_huggingface_hub(tmp_path, monkeypatch) -> None:
    import huggingface_hub

    folder = tmp_path / "snapshot"
    save_model(build_model(preset("tiny").replace(num_hidden_layers=1, vocab_size=200), "base"), folder)
    calls = []

    def fake_download(repo_id, revision=None, allow_patterns=None):
        calls.append((repo_id, revision, allow_patterns))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    model, _ = load_model("google/bert_uncased_L-2_H-128_A-2")
    assert calls[0][0] == "google/bert_uncased_L-2_H-128_A-2" and "model.safetensors" in calls[0][2]
    assert model.config.num_hidden_layers == 1

    def offline(*args, **kwargs):
        raise huggingface_hub.errors.LocalEntryNotFoundError("offline")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(CheckpointError, match="hub could not provide it"):
        load_model("someone/some-model")


def test_a_failed_save_keeps_the_old_files_whole(tmp_path, monkeypatch) -> None:
    config = preset("tiny").replace(num_hidden_layers=1, vocab_size=200)
    old = build_model(config.with_labels(["a", "b"]), "sequence-classification")
    save_model(old, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    new = build_model(config.with_labels(["x", "y", "z"]), "sequence-classification")

    def full_disk(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(new.config), "save", full_disk)  # the weights are written, the config fails
    with pytest.raises(OSError, match="No space left"):
        save_model(new, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old weights beside the old config


class Planted:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, target) -> None:
        self.target = target

    def __reduce__(self):
        return (type(self.target).touch, (self.target,))


def test_a_planted_pickle_bin_is_refused_in_one_line_and_never_runs(tmp_path) -> None:
    config = preset("tiny").replace(num_hidden_layers=1, vocab_size=200)
    save_model(build_model(config, "base"), tmp_path)
    (tmp_path / "model.safetensors").unlink()
    ran = tmp_path.parent / f"{tmp_path.name}-ran"
    torch.save({"weight": Planted(ran)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as caught:
        load_model(tmp_path)
    assert not ran.exists()
    message = str(caught.value)
    assert "pytorch_model.bin holds Python objects besides tensors" in message and "\n" not in message
