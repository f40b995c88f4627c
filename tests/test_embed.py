"""Sentence embeddings: the embed pipeline pools like sentence-transformers (on its own all-MiniLM-L6-v2 folder and
on a folder wellread wrote), on every backend and under a length configuration; the sentence-transformers layout is
read and written; `wellread embed` and `/embed` in the server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli, save_tiny

from wellread.errors import ConfigError
from wellread.infer import load_pipeline
from wellread.infer.backends import pipeline_model
from wellread.infer.export import export_folder
from wellread.models.folder import read_model_folder
from wellread.models.length import LengthConfig, save_length_config
from wellread.models.sentence import SentenceConfig, read_sentence_config, save_sentence_config

TEXTS = ["A man is playing a guitar.", "dull", "Someone plays an instrument on a stage in front of a crowd.",
         "a gripping , funny film"]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, tok) -> Path:
    """A tiny random bare encoder (BertModel), exported to ONNX fp32 and int8."""
    folder = save_tiny(tmp_path_factory.mktemp("embed") / "enc", tok, head="base", dropout=0.0)
    export_folder(pipeline_model(read_model_folder(folder), "base"), folder, source=folder, int8=True)
    return folder


def by_hand(folder: Path, tok, text: str, pooling: str = "mean", normalize: bool = True) -> np.ndarray:
    """The sentence vector computed directly from the encoder's states of the text alone (no padding)."""
    model = pipeline_model(read_model_folder(folder), "base")
    enc = tok.encode_batch([text], max_length=512, truncation="longest_first")[0]
    ids = torch.tensor([enc.ids])
    with torch.no_grad():
        states = model(ids, torch.ones_like(ids), torch.tensor([enc.type_ids])).logits[0]  # (T, H)
    vector = states.mean(0) if pooling == "mean" else states[0]
    return (torch.nn.functional.normalize(vector, dim=0) if normalize else vector).numpy()


def test_mean_and_cls_pooling_by_hand_and_independent_of_padding(encoder: Path, tok) -> None:
    for pooling in ("mean", "cls"):
        for normalize in (True, False):
            pipe = load_pipeline(encoder, backend="torch", batch_size=4, pooling=pooling, normalize=normalize)
            out = pipe.embed(TEXTS)  # one batch: the short texts padded to the longest
            assert out.shape == (4, 32)
            for text, row in zip(TEXTS, out, strict=True):
                assert row == pytest.approx(by_hand(encoder, tok, text, pooling, normalize), abs=1e-5)
            assert np.linalg.norm(out, axis=1) == pytest.approx([1.0] * 4, abs=1e-5) or not normalize


@pytest.mark.slow
def test_wellread_folder_loads_in_sentence_transformers_with_the_same_vectors(encoder: Path, tmp_path: Path,
                                                                             tok, capsys) -> None:
    st = pytest.importorskip("sentence_transformers")
    folder = save_tiny(tmp_path / "cls", tok, head="base", dropout=0.0)
    assert read_model_folder(folder).sentence == SentenceConfig()  # no modules.json: mean, normalised
    assert run_cli("embed", "--model", folder, "--pooling", "cls", "--save-pooling", TEXTS[0]) == 0
    ours = np.asarray(json.loads(capsys.readouterr().out)["embedding"])
    assert read_model_folder(folder).sentence == SentenceConfig("cls", True, None, stored=True)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert ours == pytest.approx(theirs[0], abs=1e-5)
    assert load_pipeline(folder, backend="torch").embed(TEXTS) == pytest.approx(theirs, abs=1e-5)
    assert run_cli("embed", "--model", folder, "--pooling", "mean", "--no-normalize", "--save-pooling", "x") == 0
    assert np.abs(np.asarray(json.loads(capsys.readouterr().out)["embedding"]) - ours).max() > 1e-3
    raw = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert load_pipeline(folder, backend="torch").embed(TEXTS) == pytest.approx(raw, abs=1e-5)


def test_all_minilm_gives_sentence_transformers_vectors(minilm_path: Path) -> None:
    st = pytest.importorskip("sentence_transformers")
    pipe = load_pipeline(minilm_path, backend="torch")
    assert (pipe.pooling, pipe.normalize, pipe.max_length) == ("mean", True, 256)  # its modules and max_seq_length
    theirs = st.SentenceTransformer(str(minilm_path), device="cpu").encode(TEXTS)
    assert pipe.embed(TEXTS) == pytest.approx(theirs, abs=1e-5)


@pytest.mark.parametrize(("backend", "tolerance"), [("onnx", 1e-5), ("onnx-int8", 0.05), ("torch-bf16", 0.05)])
def test_every_backend_gives_the_torch_vectors(encoder: Path, backend: str, tolerance: float) -> None:
    reference = load_pipeline(encoder, backend="torch", batch_size=3).embed(TEXTS)
    other = load_pipeline(encoder, backend=backend, batch_size=3).embed(TEXTS)
    cosine = (reference * other).sum(1)
    assert cosine == pytest.approx([1.0] * len(TEXTS), abs=tolerance)


def test_length_configuration_pools_every_position_after_restore(encoder: Path, tmp_path: Path, tok) -> None:
    folder = save_tiny(tmp_path / "short", tok, head="base", dropout=0.0)
    full = load_pipeline(folder, backend="torch").embed(TEXTS)
    save_length_config(LengthConfig((0.5, 0.5), min_tokens=2), folder)
    pipe = load_pipeline(folder, backend="torch")
    dropped = pipe.embed(TEXTS)
    assert np.abs(dropped - full).max() > 1e-3  # the configuration applies
    for text, row in zip(TEXTS, dropped, strict=True):  # the mean of every real position's restored state
        assert row == pytest.approx(by_hand(folder, tok, text), abs=1e-5)


def test_unsupported_sentence_transformers_layouts_are_refused_naming_the_file(tmp_path: Path) -> None:
    save_sentence_config(tmp_path, SentenceConfig("mean", False, 128), hidden_size=8)
    assert read_sentence_config(tmp_path) == SentenceConfig("mean", False, 128, stored=True)
    pooling = tmp_path / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(ConfigError, match="1_Pooling/config.json"):
        read_sentence_config(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"},
                                                       {"type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(ConfigError, match="modules.json"):
        read_sentence_config(tmp_path)


def test_a_classifier_is_not_an_embedding_model(tmp_path: Path, tok) -> None:
    folder = save_tiny(tmp_path / "clf", tok, head="sequence-classification")
    with pytest.raises(Exception, match="embed"):
        load_pipeline(folder, task="embed")


@pytest.mark.slow
def test_serve_embed_under_the_server_limits(encoder: Path) -> None:
    """A bare encoder's server answers /embed with the pipeline's vectors, behind the API key, the input limits and
    strict JSON; its head routes are someone else's (404)."""
    httpx = pytest.importorskip("httpx")
    from serve_helpers import running_server

    with running_server(encoder, "--max-inputs", "4", "--max-chars", "100", key="k") as server:
        url, auth = f"{server.url}/embed", server.auth
        reply = httpx.post(url, json={"inputs": [TEXTS[0], {"text": TEXTS[1], "id": 7}]}, headers=auth, timeout=30)
        assert reply.status_code == 200, reply.text
        outputs = reply.json()["outputs"]
        expected = load_pipeline(encoder, backend="torch").embed(TEXTS[:2])
        assert outputs[1]["id"] == 7
        assert np.asarray([o["embedding"] for o in outputs]) == pytest.approx(expected, abs=1e-5)
        assert httpx.post(url, json={"inputs": ["x"]}, timeout=30).status_code == 401
        assert httpx.post(url, json={"inputs": ["x"] * 5}, headers=auth, timeout=30).status_code == 413
        for body in ('{"inputs": [" "]}', '{"inputs": ["' + "x" * 101 + '"]}', '{"inputs": [NaN]}'):
            assert httpx.post(url, content=body, headers=auth, timeout=30).status_code == 422, body
        assert httpx.post(f"{server.url}/classify", json={"inputs": ["x"]}, headers=auth, timeout=30).status_code == 404
        health = httpx.get(f"{server.url}/health", headers=auth, timeout=30).json()
        assert (health["task"], health["pooling"], health["normalize"]) == ("embed", "mean", True)


def test_predict_runs_a_bare_encoders_embed_pipeline_on_a_file(encoder: Path, tmp_path: Path, capsys) -> None:
    table = tmp_path / "in.csv"
    table.write_text("sentence,id\n" + "".join(f'"{t}",{i}\n' for i, t in enumerate(TEXTS[:2])))
    assert run_cli("predict", "--model", encoder, "--input", table, "--text-column", "sentence",
                   "--backend", "torch") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = load_pipeline(encoder, backend="torch").embed(TEXTS[:2])
    assert np.asarray([r["embedding"] for r in rows]) == pytest.approx(expected, abs=1e-5)


def test_a_folder_with_modules_wellread_cannot_embed_with_still_loads_for_other_work(tmp_path: Path, tok) -> None:
    folder = save_tiny(tmp_path / "dense", tok, head="sequence-classification")
    (folder / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"},
                                                     {"type": "sentence_transformers.models.Pooling"},
                                                     {"type": "sentence_transformers.models.Dense"}]))
    found = read_model_folder(folder)  # reads config.json: fine
    assert load_pipeline(found, backend="torch")(["fine"])[0]["label"]
    with pytest.raises(ConfigError, match="modules.json"):
        _ = found.sentence
