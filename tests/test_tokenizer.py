"""The WordPiece tokenizer: parity with transformers' BertTokenizerFast (ids, type ids, offsets, truncation,
windows, padding), training, save/load round trips, error messages and the `wellread tokenizer` command."""

from __future__ import annotations

import csv
import gzip
import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from wellread.cli import main
from wellread.config import BertConfig
from wellread.errors import DataError, TokenizerError
from wellread.tokenizer import Encoding, Tokenizer

transformers = pytest.importorskip("transformers")

STRATEGIES = ["longest_first", "only_first", "only_second"]


def tricky_sentences() -> list[str]:
    """Texts that exercise every stage of BERT's pipeline."""
    pieces = [
        "Hello, World!", "Héllo wörld, ÇA VA?", "naïve café résumé Ångström", "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ",
        "北京欢迎你", "日本語のテキスト", "한국어 문장", "mixed中文and English", "Ελληνικά κείμενα", "مرحبا بالعالم",
        "tab\there", "new\nline", "nul\x00char", "bell\x07 and \x1b escape", "zero\u200bwidth", "soft\u00adhyphen",
        "nbsp\u00a0space", "ideographic\u3000space", "thin\u2009space", "line\u2028separator", "\ufeffbom start",
        "replacement \ufffd char", "combining e\u0301 and a\u0308", "emoji 🙂👍🏽 and ✨", "£100 or €5.50 (approx.)",
        "don't stop-believing...", "!!!???", "e-mail: someone@example.com", "http://example.com/a?b=c&d=e",
        "[MASK] is special, [mask] is not; [CLS][SEP] [UNK]", "x" * 99, "y" * 100, "z" * 101,
        "supercalifragilisticexpialidocious" * 4, "antidisestablishmentarianism", "", "   ", "a",
        "1,234,567.89 3.14159 2nd 21st", "ÀÉÎÕÜ àéîõü ß ÿ ø œ æ", "ﬁ ligature ﬂ", "İstanbul ıi",
    ]
    rng = random.Random(0)
    longer = [" ".join(rng.sample(pieces[:30], 4)) for _ in range(8)]
    return pieces + longer


@pytest.fixture(scope="module")
def hf_from_vocab(minilm_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """transformers' BertTokenizerFast built from the MiniLM vocab.txt alone."""
    folder = tmp_path_factory.mktemp("vocab_only")
    shutil.copy(minilm_path / "vocab.txt", folder / "vocab.txt")
    return transformers.BertTokenizerFast.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def ours_from_vocab(minilm_path: Path) -> Tokenizer:
    return Tokenizer.load(minilm_path / "vocab.txt")


def hf_encode(hf, texts, pairs=None, **kwargs) -> list[tuple[list, list, list]]:
    out = hf(list(texts), list(pairs) if pairs is not None else None, return_offsets_mapping=True, **kwargs)
    return [(out["input_ids"][i], out["token_type_ids"][i], [tuple(o) for o in out["offset_mapping"][i]])
            for i in range(len(out["input_ids"]))]


def ours(encodings: list[Encoding]) -> list[tuple[list, list, list]]:
    return [(e.ids, e.type_ids, e.offsets) for e in encodings]


def assert_same_one(hf, tok: Tokenizer, text: str, pair: str | None, **kwargs) -> None:
    """One text (pair): both tokenizers give the same ids, type ids and offsets, or both refuse."""
    try:
        expected = hf_encode(hf, [text], [pair] if pair is not None else None, **kwargs)[0]
    except Exception as err:  # the library's truncation errors surface as plain Exception in transformers
        with pytest.raises(TokenizerError):
            tok.encode(text, pair, **kwargs)
        assert "Truncation error" in str(err)
        return
    enc = tok.encode(text, pair, **kwargs)
    assert (enc.ids, enc.type_ids, enc.offsets) == expected, (text, pair, kwargs)


# --- 1. parity with BertTokenizerFast on the MiniLM vocabulary --------------------------------------


def test_parity_single_and_pair_no_truncation(hf_from_vocab, ours_from_vocab: Tokenizer) -> None:
    sentences = tricky_sentences()
    pairs = sentences[1:] + sentences[:1]
    assert ours(ours_from_vocab.encode_batch(sentences)) == hf_encode(hf_from_vocab, sentences)
    assert ours(ours_from_vocab.encode_batch(sentences, pairs)) == hf_encode(hf_from_vocab, sentences, pairs)
    for text, pair in zip(sentences, pairs, strict=True):
        assert_same_one(hf_from_vocab, ours_from_vocab, text, None)
        assert_same_one(hf_from_vocab, ours_from_vocab, text, pair)
    # a few exact expectations, so that a shared bug in both cannot hide
    enc = ours_from_vocab.encode("Héllo, [MASK]!", "北京")
    assert enc.tokens == ["[CLS]", "hello", ",", "[MASK]", "!", "[SEP]", "北", "京", "[SEP]"]
    assert enc.type_ids == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert enc.offsets == [(0, 0), (0, 5), (5, 6), (7, 13), (13, 14), (0, 0), (0, 1), (1, 2), (0, 0)]
    assert enc.word_ids == [None, 0, 1, 2, 3, None, 0, 1, None]
    assert enc.sequence_ids == [None, 0, 0, 0, 0, None, 1, 1, None]
    assert ours_from_vocab.tokenize("z" * 101) == ["[UNK]"]
    assert ours_from_vocab.encode("").ids == [101, 102]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("max_length", [5, 9, 16])
def test_parity_truncation(hf_from_vocab, ours_from_vocab: Tokenizer, strategy: str, max_length: int) -> None:
    sentences = tricky_sentences()
    pairs = sentences[3:] + sentences[:3]
    kwargs = {"truncation": strategy, "max_length": max_length}
    for text, pair in zip(sentences, pairs, strict=True):
        assert_same_one(hf_from_vocab, ours_from_vocab, text, None, **kwargs)
        assert_same_one(hf_from_vocab, ours_from_vocab, text, pair, **kwargs)
    if strategy == "longest_first":  # never refuses: compare whole batches too
        assert ours(ours_from_vocab.encode_batch(sentences, pairs, **kwargs)) == \
            hf_encode(hf_from_vocab, sentences, pairs, **kwargs)
    if strategy != "only_second":  # a single text has no second sequence to cut
        assert all(len(e) <= max_length for e in ours_from_vocab.encode_batch(sentences, **kwargs))


def test_truncation_error_is_a_tokenizer_error(ours_from_vocab: Tokenizer) -> None:
    with pytest.raises(TokenizerError, match="only_second"):
        ours_from_vocab.encode("a single text", truncation="only_second", max_length=3)
    with pytest.raises(TokenizerError, match="truncation must be one of"):
        ours_from_vocab.encode("text", truncation="middle_out", max_length=3)  # type: ignore[arg-type]
    assert len(ours_from_vocab.encode("word " * 600, truncation=True)) == 512  # model_max_length by default


def test_parity_windows(hf_from_vocab, ours_from_vocab: Tokenizer) -> None:
    rng = random.Random(1)
    words = " ".join(tricky_sentences()).split()
    context = " ".join(rng.choice(words) for _ in range(300))
    question = "Who wrote Emma, and when?"
    for max_length, stride in [(64, 16), (48, 0), (100, 40)]:
        windows = ours_from_vocab.encode_windows(question, context, max_length, stride)
        hf = hf_from_vocab(question, context, truncation="only_second", max_length=max_length, stride=stride,
                           return_overflowing_tokens=True, return_offsets_mapping=True)
        assert len(windows) == len(hf["input_ids"]) > 1
        for i, w in enumerate(windows):
            assert w.ids == hf["input_ids"][i]
            assert w.type_ids == hf["token_type_ids"][i]
            assert w.offsets == [tuple(o) for o in hf["offset_mapping"][i]]
            assert w.sequence_ids == hf.sequence_ids(i)
            assert len(w) <= max_length
    batch = ours_from_vocab.encode_windows_batch([question, "Short?"], [context, "tiny context"], 64, 16)
    assert [len(b) for b in batch] == [len(ours_from_vocab.encode_windows(question, context, 64, 16)), 1]


def test_pad_matches_transformers(hf_from_vocab, ours_from_vocab: Tokenizer) -> None:
    texts, pairs = tricky_sentences()[:6], tricky_sentences()[6:12]
    batch = ours_from_vocab.pad(ours_from_vocab.encode_batch(texts, pairs), pad_to_multiple_of=8)
    expected = hf_from_vocab(texts, pairs, padding=True, pad_to_multiple_of=8, return_tensors="pt")
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert batch[key].dtype == torch.long
        assert torch.equal(batch[key], expected[key]), key
    assert batch["input_ids"].shape[1] % 8 == 0


def test_vocab_properties_and_decode(ours_from_vocab: Tokenizer, minilm_path: Path) -> None:
    tok = ours_from_vocab
    assert tok.vocab_size == 30522 == len(tok.vocab)
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == \
        (0, 100, 101, 102, 103)
    assert tok.token_to_id("hello") == 7592 and tok.id_to_token(7592) == "hello"
    assert tok.token_to_id("not-a-token") is None
    assert tok.decode(tok.encode("Hello, wörld!").ids) == "hello, world!"
    assert tok.decode(tok.encode("Hello").ids, skip_special_tokens=False) == "[CLS] hello [SEP]"
    assert tok.tokenize("tokenization") == ["token", "##ization"]
    # loading the folder (tokenizer.json + tokenizer_config.json) gives the same tokenizer
    folder_tok = Tokenizer.load(minilm_path)
    texts = tricky_sentences()
    assert ours(folder_tok.encode_batch(texts, texts[::-1])) == ours(tok.encode_batch(texts, texts[::-1]))
    tok.check_compatible(BertConfig(vocab_size=30522, hidden_size=384, num_attention_heads=12))


# --- 2. real data: every GLUE dev row ---------------------------------------------------------------


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows, path
    return rows


@pytest.mark.slow
def test_parity_glue_dev(data_path, hf_from_vocab, ours_from_vocab: Tokenizer) -> None:
    sst = [r["sentence"] for r in read_tsv(data_path("glue/SST-2/dev.tsv"))]
    mrpc = read_tsv(data_path("glue/MRPC/dev.tsv"))
    rte = read_tsv(data_path("glue/RTE/dev.tsv"))
    assert (len(sst), len(mrpc), len(rte)) == (872, 500, 277)
    singles = sst + [r["#1 String"] for r in mrpc] + [r["#2 String"] for r in mrpc] + [r["sentence1"] for r in rte]
    first = [r["#1 String"] for r in mrpc] + [r["sentence1"] for r in rte]
    second = [r["#2 String"] for r in mrpc] + [r["sentence2"] for r in rte]
    assert all(isinstance(t, str) and t for t in singles + first + second)
    assert ours(ours_from_vocab.encode_batch(singles)) == hf_encode(hf_from_vocab, singles)
    assert ours(ours_from_vocab.encode_batch(first, second)) == hf_encode(hf_from_vocab, first, second)
    kwargs = {"truncation": "longest_first", "max_length": 48}
    assert ours(ours_from_vocab.encode_batch(first, second, **kwargs)) == \
        hf_encode(hf_from_vocab, first, second, **kwargs)
    assert ours(ours_from_vocab.encode_batch(singles, max_length=16, truncation="only_first")) == \
        hf_encode(hf_from_vocab, singles, max_length=16, truncation="only_first")


def test_parity_qa_windows(data_path, hf_from_vocab, ours_from_vocab: Tokenizer) -> None:
    data = json.loads(data_path("qa/squadshifts_new_wiki_dev.json").read_text(encoding="utf-8"))
    questions, contexts = [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append(qa["question"])
                contexts.append(paragraph["context"])
    assert len(questions) > 700
    windows = ours_from_vocab.encode_windows_batch(questions, contexts, max_length=192, stride=64)
    hf = hf_from_vocab(questions, contexts, truncation="only_second", max_length=192, stride=64,
                       return_overflowing_tokens=True, return_offsets_mapping=True)
    flat = [w for per_question in windows for w in per_question]
    assert len(flat) == len(hf["input_ids"]) > len(questions)
    assert [i for i, per_question in enumerate(windows) for _ in per_question] == hf["overflow_to_sample_mapping"]
    for i, w in enumerate(flat):
        assert (w.ids, w.type_ids, w.offsets) == \
            (hf["input_ids"][i], hf["token_type_ids"][i], [tuple(o) for o in hf["offset_mapping"][i]])


# --- 3. training, save and load ---------------------------------------------------------------------


def write_corpus(path: Path, lines: int = 400, seed: int = 0) -> Path:
    rng = random.Random(seed)
    words = ["café", "naïve", "Résumé", "über", "Hello", "world", "token", "tokenizer", "training", "trains",
             "北京", "running", "runner", "played", "playing", "unbelievable", "believe", "Élan", "the", "a",
             "of", "and", "jumped", "quickly", "brown", "foxes", "dogs", "lazy", "1999", "2024", "!", ",", "."]
    text = "\n".join(" ".join(rng.choice(words) for _ in range(rng.randint(3, 15))) for _ in range(lines))
    path.write_text(text + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tokenizer, Path]:
    folder = tmp_path_factory.mktemp("trained")
    corpus = write_corpus(folder / "corpus.txt")
    tok = Tokenizer.train([corpus], vocab_size=200, min_frequency=2, show_progress=False)
    return tok, tok.save(folder / "tok")


def test_train_specials_size_and_accents(trained: tuple[Tokenizer, Path]) -> None:
    tok, _ = trained
    assert tok.tokens_in_id_order()[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tok.pad_token_id == 0 and tok.unk_token_id == 1 and tok.mask_token_id == 4
    assert 150 < tok.vocab_size <= 200
    assert tok.tokenize("Café NAÏVE élan") == tok.tokenize("cafe naive elan")
    assert not any(ch in token for token in tok.vocab for ch in "éïÉü")
    assert tok.encode("[MASK] café").ids[:2] == [2, 4]


def test_train_cased_from_gz_and_iterator(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    with gzip.open(tmp_path / "corpus.txt.gz", "wt", encoding="utf-8") as f:
        f.write(corpus.read_text(encoding="utf-8"))
    cased = Tokenizer.train([tmp_path / "corpus.txt.gz"], vocab_size=250, lowercase=False, show_progress=False)
    assert cased.strip_accents is None and not cased.lowercase
    assert "é" in "".join(cased.vocab) and "H" in cased.vocab
    lines = corpus.read_text(encoding="utf-8").splitlines()
    from_files = Tokenizer.train(str(corpus), vocab_size=120, show_progress=False)
    from_iter = Tokenizer.train(iter(lines), vocab_size=120, show_progress=False)
    # the library breaks frequency ties in hash order, so two trainings agree on most tokens, not on all ids
    assert from_iter.vocab_size == from_files.vocab_size == 120
    assert len(set(from_iter.vocab) & set(from_files.vocab)) >= 0.9 * 120
    extra = Tokenizer.train(iter(lines), vocab_size=250, special_tokens=["[BOS]", "[UNK]"], show_progress=False)
    assert extra.tokens_in_id_order()[:6] == ["[PAD]", "[BOS]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert extra.tokenize("a [BOS] b") == ["a", "[BOS]", "b"]
    with pytest.raises(TokenizerError, match="alphabet"):
        Tokenizer.train(iter(lines), vocab_size=20, show_progress=False)


@pytest.mark.parametrize("lowercase", [True, False])
def test_save_load_round_trip_and_transformers(tmp_path: Path, lowercase: bool) -> None:
    corpus = write_corpus(tmp_path / "corpus.txt")
    tok = Tokenizer.train([corpus], vocab_size=220, lowercase=lowercase, show_progress=False)
    folder = tok.save(tmp_path / "tok")
    assert sorted(p.name for p in folder.iterdir()) == \
        ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "BertTokenizer" and config["do_lower_case"] is lowercase
    texts = tricky_sentences() + corpus.read_text(encoding="utf-8").splitlines()[:50]
    pairs = texts[::-1]
    expected = ours(tok.encode_batch(texts, pairs))
    from_json = Tokenizer.load(folder)
    from_json_file = Tokenizer.load(folder / "tokenizer.json")
    vocab_only = tmp_path / "vocab_only"
    vocab_only.mkdir()
    shutil.copy(folder / "vocab.txt", vocab_only / "vocab.txt")
    shutil.copy(folder / "tokenizer_config.json", vocab_only / "tokenizer_config.json")
    from_vocab = Tokenizer.load(vocab_only)
    for loaded in (from_json, from_json_file, from_vocab):
        assert loaded.vocab == tok.vocab and loaded.lowercase is lowercase
        assert ours(loaded.encode_batch(texts, pairs)) == expected
    for hf in (transformers.BertTokenizerFast.from_pretrained(str(folder)),
               transformers.AutoTokenizer.from_pretrained(str(folder)),
               transformers.BertTokenizerFast.from_pretrained(str(vocab_only))):
        assert hf_encode(hf, texts, pairs) == expected
        assert hf.pad_token_id == 0


# --- 4. errors --------------------------------------------------------------------------------------


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="does not exist"):
        Tokenizer.load(tmp_path / "missing")
    with pytest.raises(TokenizerError, match="neither tokenizer.json nor vocab.txt"):
        Tokenizer.load(tmp_path)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab\.txt is empty"):
        Tokenizer.load(tmp_path)
    vocab.write_text("[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab\.txt lacks the special token\(s\) \[UNK\]"):
        Tokenizer.load(vocab)
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nhello\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab\.txt:8: duplicate token 'hello' \(first on line 6\)"):
        Tokenizer.load(vocab)
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer\.json is not valid JSON"):
        Tokenizer.load(tmp_path)
    bpe = {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(bpe), encoding="utf-8")
    with pytest.raises(TokenizerError, match="the model is 'BPE', not a WordPiece"):
        Tokenizer.load(tmp_path / "tokenizer.json")
    wordpiece = {"model": {"type": "WordPiece", "vocab": {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]",
                                                                                      "[SEP]", "[MASK]", "a"])}},
                 "normalizer": {"type": "NFKC"}}
    (tmp_path / "tokenizer.json").write_text(json.dumps(wordpiece), encoding="utf-8")
    with pytest.raises(TokenizerError, match="the normalizer is 'NFKC', not BERT's BertNormalizer"):
        Tokenizer.load(tmp_path)
    del wordpiece["normalizer"]
    (tmp_path / "tokenizer.json").write_text(json.dumps(wordpiece), encoding="utf-8")
    assert Tokenizer.load(tmp_path).tokenize("A a") == ["a", "a"]
    (tmp_path / "tokenizer.json").unlink()
    vocab.write_text("[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n[MASK]\n", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"vocab\.txt:3: blank line"):
        Tokenizer.load(vocab)
    (tmp_path / "tokenizer_config.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(TokenizerError, match=r"tokenizer_config\.json is not valid JSON"):
        Tokenizer.load(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        Tokenizer.train([tmp_path / "no-corpus.txt"], show_progress=False)


def test_check_compatible(trained: tuple[Tokenizer, Path]) -> None:
    tok, _ = trained
    tok.check_compatible(BertConfig(vocab_size=tok.vocab_size))
    with pytest.raises(TokenizerError, match=f"tokenizer has {tok.vocab_size} tokens but .* vocab_size is 100"):
        tok.check_compatible(BertConfig(vocab_size=100))
    with pytest.raises(TokenizerError, match=r"\[PAD\] has id 0 but the model config's pad_token_id is 1"):
        tok.check_compatible(BertConfig(vocab_size=30522, pad_token_id=1))


# --- 5. the command ---------------------------------------------------------------------------------


def test_cli_train_and_encode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    write_corpus(corpus_dir / "a.txt", seed=1)
    with gzip.open(corpus_dir / "b.txt.gz", "wt", encoding="utf-8") as f:
        f.write(write_corpus(tmp_path / "b.txt", seed=2).read_text(encoding="utf-8"))
    out = tmp_path / "tok"
    assert main(["tokenizer", "train", str(corpus_dir), str(tmp_path / "b*.txt"), "--out", str(out),
                 "--vocab-size", "240", "--quiet", "--keep-accents"]) == 0
    printed = capsys.readouterr().out
    assert "training on 3 file(s)" in printed and "vocab size" in printed and "->" in printed
    tok = Tokenizer.load(out)
    assert tok.pad_token_id == 0 and tok.vocab_size <= 240 and tok.strip_accents is False
    assert main(["tokenizer", "encode", "--tokenizer", str(out), "Hello café", "the world"]) == 0
    result = json.loads(capsys.readouterr().out)
    enc = tok.encode("Hello café", "the world")
    assert result["ids"] == enc.ids and result["tokens"] == enc.tokens and result["type_ids"] == enc.type_ids
    assert [tuple(o) for o in result["offsets"]] == enc.offsets
    assert main(["tokenizer", "encode", "--tokenizer", str(tmp_path / "nowhere"), "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["tokenizer", "train", str(tmp_path / "nothing*.txt"), "--out", str(tmp_path / "x")]) == 2


def test_cli_train_special_tokens_max_length_and_accent_switches(tmp_path: Path, capsys) -> None:
    corpus, out = write_corpus(tmp_path / "c.txt"), tmp_path / "tok"
    assert main(["tokenizer", "train", str(corpus), "--out", str(out), "--vocab-size", "240", "--quiet",
                 "--special-tokens", "[PAD],[X]", "[Y]", "--model-max-length", "64", "--strip-accents"]) == 0
    tok = Tokenizer.load(out)
    assert [tok.vocab[t] for t in ("[PAD]", "[X]", "[Y]")] == [0, 1, 2] and tok.model_max_length == 64
    assert tok.strip_accents is True
    capsys.readouterr()
    assert main(["tokenizer", "train", str(corpus), "--out", str(out), "--strip-accents", "--keep-accents"]) == 2
    assert "--keep-accents: strip_accents and keep_accents exclude each other" in capsys.readouterr().err
    assert main(["tokenizer", "train", str(corpus), "--out", str(out), "--vocab-size", "0"]) == 2
    assert "--vocab-size: must be > 0, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["tokenizer", "--help"], ["tokenizer", "train", "--help"],
                                  ["tokenizer", "encode", "--help"]])
def test_cli_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "Example" in capsys.readouterr().out


def test_cli_trains_on_the_texts_of_a_corpus_build_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [{"text": f"alpha beta gamma delta {i}", "id": f"doc{i}", "source": "s"} for i in range(50)]
    (corpus / "shard-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (corpus / "manifest.json").write_text(json.dumps({"sources": ["manifestonlyword"]}), encoding="utf-8")
    assert main(["tokenizer", "train", str(corpus), "--out", str(tmp_path / "tok"), "--vocab-size", "60",
                 "--min-frequency", "1", "--quiet"]) == 0
    vocab = (tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8").split()
    assert "alpha" in vocab and "gamma" in vocab
    assert not {"text", "id", "source", "manifestonlyword"} & set(vocab)  # JSON keys and manifest not trained on


def test_cli_trains_on_a_text_format_corpus_build_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "part-00000.txt").write_text("".join(f"alpha beta gamma {i}\n\n" for i in range(50)), encoding="utf-8")
    (corpus / "manifest.json").write_text(json.dumps({"sources": ["manifestonlyword"]}), encoding="utf-8")
    assert main(["tokenizer", "train", str(corpus), "--out", str(tmp_path / "tok"), "--vocab-size", "60",
                 "--min-frequency", "1", "--quiet"]) == 0
    vocab = (tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8").split()
    assert "alpha" in vocab and "manifestonlyword" not in vocab
