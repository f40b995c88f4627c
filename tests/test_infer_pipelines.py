"""Inference pipelines: each one's output schema and values against direct model calls, batching that keeps order
and values, truncation notes, input parsing with located errors, and the pipeline commands.

Models are tiny random BERTs (tests/infer_models.py) built in a temp folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from infer_models import NER_LABELS, make_models

from wellread.cli import main
from wellread.errors import WellreadError
from wellread.infer import load_pipeline
from wellread.infer.inputs import parse_line, read_records
from wellread.infer.tag import entities
from wellread.models.checkpoint import load_model
from wellread.tasks.qa_features import decode_answer
from wellread.tokenizer import Tokenizer

TEXTS = ["a gripping , funny film", "dull", "two hours of my life i will not get back , sadly",
         "Ünïcode and punctuation !!", "ok"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, tok) -> dict[str, Path]:
    return make_models(tmp_path_factory.mktemp("infer"), tok)


def direct(folder: Path, tok: Tokenizer, text: str, pair: str | None = None) -> tuple[np.ndarray, list[int]]:
    """The model's own logits for one unpadded input, and its ids."""
    model, _ = load_model(folder)
    enc = tok.encode(text, pair)
    ids = torch.tensor([enc.ids])
    with torch.no_grad():
        logits = model(ids, torch.ones_like(ids), torch.tensor([enc.type_ids])).logits[0]
    return logits.numpy(), enc.ids


def test_classify_matches_the_model_and_keeps_order(models, tok) -> None:
    pipe = load_pipeline(models["classify"], backend="torch", batch_size=2)
    inputs = [*TEXTS, {"text": "a man sleeps .", "text_pair": "nobody sleeps .", "id": "pair-1"}]
    outputs = pipe(inputs)
    assert len(outputs) == len(inputs)
    for item, out in zip(inputs, outputs, strict=True):
        text, pair = (item, None) if isinstance(item, str) else (item["text"], item["text_pair"])
        logits, _ = direct(models["classify"], tok, text, pair)
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert set(out) >= {"label", "score", "scores"} and "note" not in out
        assert out["label"] == ["negative", "positive"][int(probs.argmax())]
        assert out["scores"]["positive"] == pytest.approx(float(probs[1]), abs=1e-5)
        assert out["score"] == pytest.approx(float(probs.max()), abs=1e-5)
    assert outputs[-1]["id"] == "pair-1"
    assert len({round(o["scores"]["positive"], 6) for o in outputs}) > 1  # inputs differ, so do outputs


def test_batch_size_and_padding_do_not_change_results(models) -> None:
    one = load_pipeline(models["classify"], backend="torch", batch_size=1)(TEXTS)
    many = load_pipeline(models["classify"], backend="torch", batch_size=32)(TEXTS)
    for a, b in zip(one, many, strict=True):
        assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_regression_and_truncation_note(models, tok) -> None:
    pipe = load_pipeline(models["regression"], backend="torch", max_length=16)
    long_text = " ".join(["word"] * 40)
    out = pipe(["short text", long_text])
    logits, _ = direct(models["regression"], tok, "short text")
    assert set(out[0]) == {"score"} and out[0]["score"] == pytest.approx(float(logits[0]), abs=1e-5)
    assert "truncated" in out[1]["note"] and "16 tokens" in out[1]["note"]


def test_tag_words_spans_and_entities(models, tok) -> None:
    text = "John Smith lives in New York, near Central Park."
    out = load_pipeline(models["tag"], backend="torch")([text])[0]
    logits, _ = direct(models["tag"], tok, text)
    enc = tok.encode(text)
    firsts = [i for i, w in enumerate(enc.word_ids) if w is not None and (i == 0 or enc.word_ids[i - 1] != w)]
    assert [w["word"] for w in out["words"]] == ["John", "Smith", "lives", "in", "New", "York", ",", "near",
                                                 "Central", "Park", "."]
    assert [w["index"] for w in out["words"]] == list(range(11)) and "note" not in out
    for word, first in zip(out["words"], firsts, strict=True):
        assert text[word["start"]:word["end"]] == word["word"]
        assert word["tag"] == NER_LABELS[int(logits[first].argmax())]
    for entity in out["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"] and entity["type"] in ("PER", "LOC")


def test_tag_pre_split_tokens_as_fine_tuning_reads_them(models, tok) -> None:
    from wellread.finetune.tagging import predict_tags
    from wellread.infer.backends import TorchBackend
    from wellread.tasks.tag_features import encode_words

    sentences = [["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"], ["word"] * 30]
    pipe = load_pipeline(models["tag"], backend="torch", max_length=24)
    out = pipe([{"tokens": words} for words in sentences])
    assert isinstance(pipe.backend, TorchBackend)
    ids, maps = encode_words(tok, sentences, 24)
    expected = predict_tags(pipe.backend.model, tok, ids, maps, [len(s) for s in sentences], NER_LABELS, "O")
    for words, got, tags in zip(sentences, out, expected, strict=True):
        tagged = {w["index"]: w["tag"] for w in got["words"]}
        assert [tagged.get(i, "O") for i in range(len(words))] == tags
        assert all(w["word"] == words[w["index"]] for w in got["words"])
    assert "note" not in out[0] and "8 of 30 words not tagged" in out[2]["note"]
    with pytest.raises(WellreadError, match="'tokens' must be a list of non-empty strings"):
        pipe([{"tokens": "not a list"}])


def test_entities_follow_bio_grouping() -> None:
    text = "Ann Lee met Bob in Rome"
    spans = [(0, 3), (4, 7), (8, 11), (12, 15), (16, 18), (19, 23)]
    tags = ["B-PER", "I-PER", "O", "B-PER", "O", "I-LOC"]  # a stray I- starts an entity, as in seqeval
    words = [{"word": text[s:e], "start": s, "end": e, "tag": t, "score": 0.5 + i / 20}
             for i, ((s, e), t) in enumerate(zip(spans, tags, strict=True))]
    found = entities(text, words)
    assert [(e["type"], e["text"]) for e in found] == [("PER", "Ann Lee"), ("PER", "Bob"), ("LOC", "Rome")]
    assert found[0]["score"] == pytest.approx((0.5 + 0.55) / 2)


def test_answer_matches_decoding_of_the_model_logits(models, tok) -> None:
    question, context = "where does john live ?", "john lives in new york . he works in boston ."
    out = load_pipeline(models["answer"], backend="torch")([{"question": question, "context": context}])[0]
    logits, _ = direct(models["answer"], tok, question, context)
    window = tok.encode_windows(question, context, 384)[0]
    offsets = np.array(window.offsets).reshape(-1, 2)
    offsets[np.array([s != 1 for s in window.sequence_ids])] = -1
    expected = decode_answer(context, [(logits[:, 0], logits[:, 1], offsets)])
    assert out == {"answer": expected.text, "start": expected.start, "end": expected.start + len(expected.text),
                   "score": pytest.approx(expected.score, abs=1e-5)}
    assert context[out["start"]:out["end"]] == out["answer"]


def test_answer_reads_long_contexts_in_windows(models) -> None:
    pipe = load_pipeline(models["answer"], backend="torch", max_length=64)
    context = " ".join(f"sentence {i} is about item {i} ." for i in range(40))
    out = pipe([{"question": "what is item 7 ?", "context": context}])[0]
    assert "windows" in out["note"] and context[out["start"]:out["end"]] == out["answer"]
    pipe([{"question": " ".join(["why"] * 39), "context": context}])  # 39 + 3 + stride 21 < 64: fits
    with pytest.raises(WellreadError, match="input 1: the question has 40 tokens; .* at most 39"):
        pipe([{"question": " ".join(["why"] * 40), "context": context}])


def test_fill_mask_matches_the_model(models, tok) -> None:
    text = "the capital of [MASK] is [MASK] ."
    out = load_pipeline(models["fill-mask"], backend="torch", top_k=3)([text, "one [MASK] only"])
    logits, ids = direct(models["fill-mask"], tok, text)
    masks = [i for i, t in enumerate(ids) if t == tok.mask_token_id]
    assert out[0]["text"] == text and len(out[0]["predictions"]) == 2 and len(out[1]["predictions"]) == 1
    for position, predictions in zip(masks, out[0]["predictions"], strict=True):
        probs = torch.tensor(logits[position]).softmax(-1)
        top = probs.topk(3)
        assert [p["token"] for p in predictions] == [tok.id_to_token(int(i)) for i in top.indices]
        assert [p["score"] for p in predictions] == pytest.approx(top.values.tolist(), abs=1e-5)
    with pytest.raises(WellreadError, match=r"input 1: no \[MASK\] token"):
        load_pipeline(models["fill-mask"], backend="torch")(["no mask here"])


def test_wrong_task_and_bad_records_are_clear_errors(models) -> None:
    with pytest.raises(WellreadError, match="is a classify model"):
        load_pipeline(models["classify"], task="answer")
    pipe = load_pipeline(models["answer"], backend="torch")
    with pytest.raises(WellreadError, match=r"input 2: missing field 'context'"):
        pipe([{"question": "q", "context": "c"}, {"question": "q"}])
    with pytest.raises(WellreadError, match="field 'text' must be a string"):
        load_pipeline(models["classify"], backend="torch")([{"text": 3}])


def test_input_lines_json_tsv_and_located_errors(tmp_path: Path) -> None:
    assert parse_line("a\tb", ("text", "text_pair"), "x") == {"text": "a", "text_pair": "b"}
    assert parse_line('{"text": "a", "id": 3}', ("text",), "x") == {"text": "a", "id": 3}
    path = tmp_path / "in.txt"
    path.write_text("first\n\n{\"text\": broken}\n", encoding="utf-8")
    with pytest.raises(WellreadError, match=rf"{path}:3: not valid JSON"):
        read_records([], [str(path)], ("text",))
    with pytest.raises(WellreadError, match="argument 1: 3 tab-separated values"):
        read_records(["a\tb\tc"], [], ("text", "text_pair"))


def test_classify_and_fill_mask_commands(models, tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "fine film", "id": 1}\nsecond line\tits pair\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--model", str(models["classify"]), "first", "--input", str(inputs),
                 "--output", str(out), "--backend", "torch"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    expected = load_pipeline(models["classify"], backend="torch")(
        ["first", {"text": "fine film"}, {"text": "second line", "text_pair": "its pair"}])
    assert [line["label"] for line in lines] == [e["label"] for e in expected] and lines[1]["id"] == 1
    capsys.readouterr()
    assert main(["fill-mask", "--model", str(models["fill-mask"]), "a [MASK] day", "--top-k", "2"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == "a [MASK] day" and len(record["predictions"][0]) == 2
    assert main(["answer", "--model", str(models["answer"]), "--question", "who?", "--context", "ann\tlee ."]) == 0
    assert "answer" in json.loads(capsys.readouterr().out)
    assert main(["tag", "--model", str(models["classify"]), "x"]) == 2  # a classifier cannot tag


def test_predict_maps_csv_tsv_and_jsonl_columns_onto_the_pipelines(models, tmp_path: Path, capsys) -> None:
    """predict reads .csv/.tsv/.jsonl/text with column options and writes the pipelines' outputs, ids and order."""
    csv_file = tmp_path / "in.csv"
    csv_file.write_text('id,review\nr1,"fine, funny film"\nr2,"multi\nline"\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(models["classify"]), "--input", str(csv_file), "--text-column", "review",
                 "--output", str(out), "--backend", "torch"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    expected = load_pipeline(models["classify"], backend="torch")(["fine, funny film", "multi\nline"])
    assert [line.pop("id") for line in lines] == ["r1", "r2"] and lines == expected
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text('index\tsentence1\tsentence2\n0\t"A" man sleeps.\tHe rests.\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", "--model", str(models["classify"]), "--input", str(tsv), "--text-column", "sentence1",
                 "--text-pair-column", "sentence2", "--backend", "torch", "--max-length", "8"]) == 0
    captured = capsys.readouterr()
    pair = {"text": '"A" man sleeps.', "text_pair": "He rests."}
    expected = load_pipeline(models["classify"], backend="torch", max_length=8)([pair])
    assert json.loads(captured.out) == expected[0] and "truncated" in expected[0]["note"]
    assert f"note: {tsv}:2: input longer than 8 tokens" in captured.err
    questions = tmp_path / "q.jsonl"
    context = "the ship was steered by captain nemo ."
    questions.write_text(json.dumps({"q": "who steered ?", "c": context, "id": 7}) + "\n", encoding="utf-8")
    assert main(["predict", "--model", str(models["answer"]), "--input", str(questions), "--question-column", "q",
                 "--context-column", "c", "--backend", "torch", "--max-answer-length", "3"]) == 0
    answer = json.loads(capsys.readouterr().out)
    expected = load_pipeline(models["answer"], backend="torch", max_answer_length=3)(
        [{"question": "who steered ?", "context": context}])[0]
    assert answer == {"id": 7, **expected} and context[answer["start"]:answer["end"]] == answer["answer"]
    words = tmp_path / "words.jsonl"
    words.write_text(json.dumps({"tokens": ["John", "lives", "in", "Paris"]}) + "\n", encoding="utf-8")
    assert main(["predict", "--model", str(models["tag"]), "--input", str(words), "--backend", "torch"]) == 0
    tagged = json.loads(capsys.readouterr().out)
    assert [w["word"] for w in tagged["words"]] == ["John", "lives", "in", "Paris"]
    assert tagged == load_pipeline(models["tag"], backend="torch")([{"tokens": ["John", "lives", "in", "Paris"]}])[0]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("in.csv", "id,text\n1,a,b\n", "in.csv:2: 3 values, but the header names 2 columns"),
    ("in.jsonl", '{"text": "a"}\nplain\n', "in.jsonl:2: expected a JSON object"),
    ("in.jsonl", '{"review": "a"}\n', "in.jsonl:1: no 'text' field .*--text-column"),
    ("in.txt", "\n\n", "in.txt: no inputs"),
])
def test_predict_input_errors_name_file_and_line(models, tmp_path: Path, capsys, name: str, text: str,
                                                 message: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["predict", "--model", str(models["classify"]), "--input", str(tmp_path / name)]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_backend_names_and_missing_onnx_file(models) -> None:
    from wellread.infer.backends import resolve_backend

    assert resolve_backend("auto") == "auto"
    with pytest.raises(WellreadError, match="unknown backend 'tensorrt'"):
        resolve_backend("tensorrt")
    with pytest.raises(WellreadError, match="run `wellread export --onnx MODEL` first"):
        load_pipeline(models["classify"], backend="onnx")


def test_auto_backend_uses_bf16_only_for_batches_where_it_pays(models) -> None:
    from types import SimpleNamespace

    from wellread.hardware import bf16_supported
    from wellread.infer.backends import AUTO_BF16_TOKENS, TorchBackend, load_backend
    from wellread.models.folder import read_model_folder

    seen = []

    class Probe(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, **_: torch.Tensor) -> SimpleNamespace:
            seen.append(torch.is_autocast_enabled("cpu"))
            return SimpleNamespace(logits=torch.zeros(len(input_ids), 2))

    backend = TorchBackend(Probe(), bf16=True, bf16_min_tokens=AUTO_BF16_TOKENS, name="auto")
    for rows in (1, 2):  # 25 and 50 tokens around the threshold of 48
        backend.forward({"input_ids": torch.zeros(rows, 25, dtype=torch.long)})
    assert seen == [False, True]
    loaded = load_backend(read_model_folder(models["classify"]), "sequence-classification", "auto")
    assert loaded.name == "auto" and loaded.bf16 == bf16_supported()


def test_bf16_backend_stays_close_to_fp32(models) -> None:
    fp32 = load_pipeline(models["classify"], backend="torch")(TEXTS)
    bf16 = load_pipeline(models["classify"], backend="torch-bf16")(TEXTS)
    assert [o["score"] for o in bf16] == pytest.approx([o["score"] for o in fp32], abs=0.02)
