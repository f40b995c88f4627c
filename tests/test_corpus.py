"""`wellread corpus build`: normalisation, filters, dedup, readers, malformed input, report, manifest, CLI.

Every fixture is generated in tmp_path; documents are random English-like text (stopwords mixed with content
words) so they pass the quality filters unless a test breaks one on purpose.
"""

from __future__ import annotations

import bz2
import gzip
import json
import random
import re
from pathlib import Path

import pytest
import zstandard

from wellread.cli import main
from wellread.corpus import BuildOptions, FilterConfig, QualityFilter, build_corpus, normalise, strip_wikitext
from wellread.corpus.dedup import LshBanding, minhash_signature
from wellread.corpus.pack import read_documents
from wellread.errors import DataError


def _words(text: str) -> list[str]:
    return text.split()


_STOP = _words("the of and to a in that is was he for it with as his on be at by had")
_CONTENT = _words("river garden letter morning village doctor winter window music harbour orchard lantern teacher "
                  "railway meadow kitchen captain journey mountain forest island market bridge candle silver "
                  "painter country evening stranger castle valley")
_VERBS = _words("walked found carried watched opened remembered noticed painted crossed visited")


def english(seed: int, words: int = 120) -> str:
    """A random English-like document of about `words` words, different for every seed."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < words:
        sentence = [rng.choice(_STOP), rng.choice(_CONTENT), rng.choice(_VERBS), rng.choice(_STOP),
                    rng.choice(_CONTENT), rng.choice(_STOP), rng.choice(_STOP), rng.choice(_CONTENT)]
        sentence += rng.sample(_CONTENT, 2)
        out.extend(sentence)
        out[-1] += "."
    out[0] = out[0].capitalize()
    return " ".join(out)


def build(tmp_path: Path, inputs: list[Path | str], **kwargs) -> tuple[dict, list[dict]]:
    """Run build_corpus in-process; (report.json, records of all shards)."""
    out = tmp_path / kwargs.pop("out_name", "out")
    kwargs.setdefault("workers", 0)
    kwargs.setdefault("progress", False)
    build_corpus([str(p) for p in inputs], BuildOptions(out=out, **kwargs))
    report = json.loads((out / "report.json").read_text())
    records = []
    for shard in sorted(out.glob("part-*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f)
    return report, records


def assert_adds_up(report: dict) -> None:
    assert report["documents_read"] == report["documents_kept"] + sum(report["removed"].values())
    for source in report["sources"]:
        assert source["documents_read"] == source["documents_kept"] + sum(source["removed"].values())


# --- normalisation and filters ---------------------------------------------------------------------------------


def test_normalise_nfc_controls_whitespace():
    decomposed = "Cafe\u0301 au lait"  # e + combining acute
    assert normalise(decomposed) == "Caf\u00e9 au lait"
    assert normalise("a\x00b\x07c\x1bd\x7f\u0085e") == "abcde"
    assert normalise("\ufeffone  \t two\r\nthree\rfour\n\n\n  five  ") == "one two\nthree\nfour\nfive"
    assert normalise("x\u200by") == "xy"


@pytest.mark.parametrize(("text", "reason", "config"), [
    ("Too short.", "too_short", {}),
    ("the cat and the dog", "too_short", {"min_chars": 50}),
    (english(1, 200), "too_long", {"max_words": 100}),
    ("the 12345 67890 and 1234 5678 9012 of 3456 7890 to 1234 5678 in 9999", "alpha_ratio", {}),
    ("the #news and #sports of #today in #town with #love for #all", "symbol_ratio", {}),
    ("and so it is...\nand so it is...\nand then it was... the end of it all...", "symbol_ratio", {}),
    ("\n".join(["the menu of the day is here"] * 3 + ["and the rest of the page is different"]),
     "duplicate_lines", {}),
    (" ".join(["buy the best shoes"] * 30), "top_ngram", {}),
    (english(2, 60) + " " + " ".join(["the garden of the captain was in the valley and it was green"] * 4),
     "duplicate_ngram", {}),
    ("Der schnelle braune Fuchs springt über den faulen Hund und läuft dann schnell weiter durch "
     "den dunklen Wald bis zum großen Fluss", "not_english", {}),
])
def test_each_filter(text: str, reason: str, config: dict):
    assert QualityFilter(FilterConfig(**config)).check(normalise(text)) == reason


def test_good_documents_pass_every_filter():
    quality = QualityFilter()
    for seed in range(20):
        assert quality.check(normalise(english(seed))) is None
    assert quality.check("an entity that has physical existence") is None  # a short WordNet-style gloss


def test_filter_config_validation():
    assert FilterConfig(min_alpha_ratio=1.5).validate()
    assert FilterConfig(min_words=10, max_words=5).validate()
    assert FilterConfig().validate() == []
    assert FilterConfig(top_ngram_thresholds="0.3,0.2").top_ngram_thresholds == (0.3, 0.2)


# --- dedup -------------------------------------------------------------------------------------------------------


def test_exact_duplicates_removed_and_counted(tmp_path: Path):
    docs = [english(1), english(2), english(1), english(3), "  " + english(2).replace(" ", "   ")]
    (tmp_path / "in.txt").write_text("\n\n".join(docs) + "\n")
    report, records = build(tmp_path, [tmp_path / "in.txt"])
    assert report["removed"] == {"exact_duplicate": 2}
    assert [r["text"] for r in records] == [english(1), english(2), english(3)]
    assert_adds_up(report)


def test_near_duplicates_removed_distinct_kept(tmp_path: Path):
    base = english(10, 300)
    words = base.split()
    words[150] = "zeppelin"  # one word changed
    docs = [base, english(11, 300), " ".join(words), english(12, 300)]
    (tmp_path / "in.txt").write_text("\n\n".join(docs))
    report, records = build(tmp_path, [tmp_path / "in.txt"])
    assert report["removed"] == {"near_duplicate": 1}
    assert [r["text"] for r in records] == [base, english(11, 300), english(12, 300)]
    report, records = build(tmp_path, [tmp_path / "in.txt"], near_dedup=False, out_name="no_near")
    assert report["documents_kept"] == 4


def test_lsh_band_keys_match_for_equal_signatures():
    banding = LshBanding(0.8, 128)
    assert (banding.b, banding.r) == (9, 13)
    sig = minhash_signature(english(1))
    assert banding.keys(sig) == banding.keys(minhash_signature(english(1)))
    assert not set(banding.keys(sig)) & set(banding.keys(minhash_signature(english(2))))


def test_decontaminate_drops_documents_sharing_an_ngram(tmp_path: Path):
    evaluation = english(20, 40)
    (tmp_path / "eval.conll").write_text("\n".join(f"{w}\tnn" for w in evaluation.split()) + "\n\n")
    polluted = english(21, 100) + " " + evaluation + " " + english(22, 50)
    (tmp_path / "in.txt").write_text(english(23) + "\n\n" + polluted + "\n\n" + english(24))
    report, records = build(tmp_path, [tmp_path / "in.txt"], decontaminate=[str(tmp_path / "eval.conll")])
    assert report["removed"] == {"contaminated": 1}
    assert len(records) == 2


# --- readers -----------------------------------------------------------------------------------------------------


def test_plain_text_blocks_and_lines(tmp_path: Path):
    (tmp_path / "blocks.txt").write_text(f"{english(1)}\n{english(2)}\n\n\n{english(3)}\n")
    (tmp_path / "lines.txt").write_text("".join(english(s) + "\n" for s in range(4, 9)))
    report, records = build(tmp_path, [tmp_path])
    texts = [r["text"] for r in records]
    assert texts[:2] == [f"{english(1)}\n{english(2)}", english(3)]
    assert texts[2:] == [english(s) for s in range(4, 9)]
    splits = {Path(s["path"]).name: s["doc_split"] for s in report["sources"]}
    assert splits == {"blocks.txt": "blank-line", "lines.txt": "line"}
    _, records = build(tmp_path, [tmp_path / "blocks.txt"], doc_split="line", out_name="forced")
    assert len(records) == 3


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".zst"])
def test_compressed_inputs(tmp_path: Path, suffix: str):
    data = "\n\n".join(english(s) for s in range(5)).encode()
    compress = {".gz": gzip.compress, ".bz2": bz2.compress, ".zst": zstandard.ZstdCompressor().compress}[suffix]
    path = tmp_path / f"docs.txt{suffix}"
    path.write_bytes(compress(data))
    report, records = build(tmp_path, [path])
    assert [r["text"] for r in records] == [english(s) for s in range(5)]
    assert report["bytes_read"] == path.stat().st_size
    assert report["problems"]["counts"] == {}


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".zst"])
def test_packing_reads_plain_and_compressed_files_and_names_an_unreadable_one(tmp_path: Path, suffix: str):
    compress = {"": bytes, ".gz": gzip.compress, ".bz2": bz2.compress, ".zst": zstandard.ZstdCompressor().compress}
    path = tmp_path / f"docs.txt{suffix}"
    path.write_bytes(compress[suffix]("\n\n".join(english(s) for s in range(3)).encode()))
    assert list(read_documents([path])) == [english(s) for s in range(3)]
    path.write_bytes(compress[suffix](b"fine\n\xff broken\n"))
    with pytest.raises(DataError, match=f"cannot read {re.escape(str(path))} as UTF-8 text"):
        list(read_documents([path]))
    if suffix:
        path.write_bytes(compress[suffix](english(1).encode() * 200)[:-8])
        with pytest.raises(DataError, match=re.escape(str(path))):
            list(read_documents([path]))


def test_jsonl(tmp_path: Path):
    lines = [json.dumps({"content": english(1), "date": "2024-05-01", "url": "https://a.example/1"}),
             json.dumps({"content": english(2)})]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    _, records = build(tmp_path, [tmp_path / "d.jsonl"], text_field="content")
    assert records[0] == {"text": english(1), "source": str((tmp_path / "d.jsonl").resolve()),
                          "date": "2024-05-01", "url": "https://a.example/1"}
    assert records[1]["date"] is None


WIKI = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">
  <siteinfo><sitename>Wikipedia</sitename></siteinfo>
  <page>
    <title>Lantern</title><ns>0</ns><id>1</id>
    <revision><id>11</id><timestamp>2024-05-02T10:00:00Z</timestamp>
      <text xml:space="preserve">{{Infobox thing|name=Lantern|{{nested|x}}}}
'''A lantern''' is a [[light|portable light]] with a [[candle]] inside.&lt;ref&gt;A source.&lt;/ref&gt;
== History ==
{| class="wikitable"
| cell || cell
|}
[[File:Lantern.jpg|thumb|A [[lantern]] at night]]
BODY
[[Category:Lights]]</text>
    </revision>
  </page>
  <page><title>Talk:Lantern</title><ns>1</ns><id>2</id>
    <revision><timestamp>2024-05-03T10:00:00Z</timestamp><text>talk page text</text></revision></page>
  <page><title>Lamp</title><ns>0</ns><id>3</id><redirect title="Lantern" />
    <revision><timestamp>2024-05-04T10:00:00Z</timestamp><text>#REDIRECT [[Lantern]]</text></revision></page>
</mediawiki>
"""


def test_wikipedia_dump(tmp_path: Path):
    path = tmp_path / "enwiki-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(WIKI.replace("BODY", english(5)).encode()))
    report, records = build(tmp_path, [path])
    assert len(records) == 1
    text = records[0]["text"]
    assert text.startswith("Lantern\nA lantern is a portable light with a candle inside.\nHistory\n")
    assert english(5) in text
    for markup in ("{{", "[[", "'''", "wikitable", "A source", "Category", "thumb", "=="):
        assert markup not in text
    assert records[0]["date"] == "2024-05-02T10:00:00Z" and records[0]["title"] == "Lantern"
    assert report["sources"][0]["dates"] == {"earliest": "2024-05-02T10:00:00Z", "latest": "2024-05-02T10:00:00Z"}


def test_strip_wikitext_links_and_markup():
    assert strip_wikitext("[[a|b]] and [[c]] ''it'' [http://x.org site] <b>bold</b> &amp;") == "b and c it site bold &"


def wet_record(url: str, date: str, text: str, kind: str = "conversion") -> bytes:
    body = text.encode()
    head = (f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {url}\r\nWARC-Date: {date}\r\n"
            f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body + b"\r\n\r\n"


def test_common_crawl_wet(tmp_path: Path):
    data = (wet_record("", "2024-06-01T00:00:00Z", "software: test", kind="warcinfo")
            + wet_record("https://a.example/", "2024-06-02T01:02:03Z", english(1))
            + wet_record("https://b.example/x", "2024-06-03T01:02:03Z", english(2)))
    path = tmp_path / "CC-MAIN-1.warc.wet.gz"
    path.write_bytes(gzip.compress(data))
    report, records = build(tmp_path, [path])
    assert [(r["url"], r["date"], r["text"]) for r in records] == [
        ("https://a.example/", "2024-06-02T01:02:03Z", english(1)),
        ("https://b.example/x", "2024-06-03T01:02:03Z", english(2))]
    assert report["sources"][0]["format"] == "wet"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["sources"][0]["dates"] == {"earliest": "2024-06-02T01:02:03Z", "latest": "2024-06-03T01:02:03Z"}


def test_conll_sentences(tmp_path: Path):
    first, second = english(1, 30).split(), english(2, 30).split()
    rows = ["-DOCSTART- -X- O", ""] + [f"{w} NN O" for w in first] + [""] + [f"{w} NN O" for w in second] + [""]
    (tmp_path / "ner.conll").write_text("\n".join(rows))
    _, records = build(tmp_path, [tmp_path / "ner.conll"])
    assert [r["text"] for r in records] == [" ".join(first) + "\n" + " ".join(second)]


# --- malformed input -------------------------------------------------------------------------------------------


def test_malformed_inputs_reported_with_file_and_line(tmp_path: Path):
    bad_utf8 = tmp_path / "a_bad.txt"
    bad_utf8.write_bytes(english(1).encode() + b"\n\n" + b"caf\xe9 " + english(2).encode() + b"\n\n"
                         + english(3).encode() + b"\n")
    truncated = tmp_path / "b_cut.txt.gz"
    full = gzip.compress("\n\n".join(english(s) for s in range(100, 400)).encode())
    truncated.write_bytes(full[: len(full) * 2 // 3])
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join([json.dumps({"text": english(4)}), "{not json", json.dumps({"body": "x"}),
                                json.dumps({"text": english(5)}), json.dumps(["a", "list"])]) + "\n")
    zst = tmp_path / "d_cut.txt.zst"
    # zstd decodes whole blocks (128 kB), so the cut file must span several
    zfull = zstandard.ZstdCompressor().compress("\n\n".join(english(s, 60) for s in range(500, 2500)).encode())
    zst.write_bytes(zfull[: len(zfull) // 2])

    report, records = build(tmp_path, [tmp_path])
    assert_adds_up(report)
    problems = report["problems"]
    assert problems["counts"] == {"bad_utf8": 1, "truncated": 2, "bad_json": 1, "missing_field": 2}
    lines: dict[tuple[str, str], list[int]] = {}
    for e in problems["examples"]:
        lines.setdefault((e["kind"], Path(e["file"]).name), []).append(e["line"])
    assert lines[("bad_utf8", "a_bad.txt")] == [3]
    assert lines[("bad_json", "c.jsonl")] == [2]
    assert lines[("missing_field", "c.jsonl")] == [3, 5]
    assert lines[("truncated", "b_cut.txt.gz")][0] > 1 and lines[("truncated", "d_cut.txt.zst")][0] > 1
    cut = next(e for e in problems["examples"] if e["file"].endswith("b_cut.txt.gz"))
    assert cut["offset"] == truncated.stat().st_size

    sources = {Path(s["path"]).name: s for s in report["sources"]}
    assert sources["a_bad.txt"]["documents_kept"] == 3  # the bad line is kept, with U+FFFD
    assert sources["c.jsonl"]["documents_kept"] == 2 and sources["c.jsonl"]["removed"] == {"malformed": 3}
    assert 50 < sources["b_cut.txt.gz"]["documents_kept"] < 300  # what was read before the cut is kept
    assert 200 < sources["d_cut.txt.zst"]["documents_kept"] < 2000
    texts = {r["text"] for r in records}
    assert english(4) in texts and english(5) in texts and "caf\ufffd " + english(2) in texts


def test_broken_wet_record_and_bad_xml_do_not_stop_the_run(tmp_path: Path):
    data = (b"WARC/1.0\r\nWARC-Type: conversion\r\nContent-Length: abc\r\n\r\njunk\r\n\r\n"
            + wet_record("https://ok.example/", "2024-06-02T00:00:00Z", english(1)))
    (tmp_path / "x.wet").write_bytes(data)
    (tmp_path / "y.xml").write_text(WIKI.replace("BODY", english(2)).replace("</mediawiki>", "<page><title>oops"))
    (tmp_path / "z.txt").write_text(english(3))
    report, records = build(tmp_path, [tmp_path])
    assert report["problems"]["counts"] == {"bad_record": 1, "xml_error": 1}
    assert {r["text"] for r in records} >= {english(1), english(3)}
    assert len(records) == 3
    assert_adds_up(report)


# --- report, manifest, output, parallel ------------------------------------------------------------------------


def test_report_and_manifest(tmp_path: Path):
    (tmp_path / "in").mkdir()
    docs = [english(s) for s in range(6)] + [english(0), "short", "the 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9"]
    (tmp_path / "in" / "a.txt").write_text("\n\n".join(docs))
    (tmp_path / "in" / "skip.conll").write_text("x\tnn\n")
    report, records = build(tmp_path, [tmp_path / "in"], exclude=["*/in/skip.conll"], snapshot_date="2024-06-01")
    assert report["documents_read"] == 9 and report["documents_kept"] == 6 == len(records)
    assert report["removed"] == {"exact_duplicate": 1, "too_short": 1, "alpha_ratio": 1}
    assert_adds_up(report)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["snapshot_date"] == "2024-06-01"
    assert [Path(s["path"]).name for s in manifest["sources"]] == ["a.txt"]
    import hashlib
    assert manifest["sources"][0]["sha256"] == hashlib.sha256((tmp_path / "in" / "a.txt").read_bytes()).hexdigest()
    assert manifest["options"]["min_words"] == 5
    assert manifest["wellread_version"]
    assert manifest["shards"][0]["documents"] == 6


def test_shards_and_text_output(tmp_path: Path):
    (tmp_path / "in.txt").write_text("\n\n".join(english(s, 400) for s in range(200)))
    report, records = build(tmp_path, [tmp_path / "in.txt"], shard_size_mb=0.02)
    assert len(report["shards"]) > 2 and len(records) == 200
    assert [r["text"] for r in records[:2]] == [english(0, 400), english(1, 400)]
    build(tmp_path, [tmp_path / "in.txt"], output_format="text", out_name="text")
    text = (tmp_path / "text" / "part-00000.txt").read_text()
    assert text.split("\n\n")[:2] == [english(0, 400), english(1, 400)]


def test_builds_are_reproducible(tmp_path: Path):
    (tmp_path / "in.txt").write_text("\n\n".join(english(s) for s in range(30)))
    first, _ = build(tmp_path, [tmp_path / "in.txt"], out_name="one", snapshot_date="2024-06-01")
    second, _ = build(tmp_path, [tmp_path / "in.txt"], out_name="two", snapshot_date="2024-06-01")
    assert first["shards"] == second["shards"]  # same files, documents, bytes and sha256


def test_workers_give_the_same_output(tmp_path: Path):
    docs = [english(s % 25, 80) for s in range(60)]
    (tmp_path / "in.txt").write_text("\n\n".join(docs))
    serial, records = build(tmp_path, [tmp_path / "in.txt"], out_name="serial")
    parallel, parallel_records = build(tmp_path, [tmp_path / "in.txt"], workers=2, batch_docs=7, out_name="par")
    assert parallel_records == records and parallel["removed"] == serial["removed"] == {"exact_duplicate": 35}


def test_bad_options_and_inputs_raise_data_error(tmp_path: Path):
    (tmp_path / "a.txt").write_text(english(1))
    with pytest.raises(DataError, match="does not exist"):
        build_corpus([str(tmp_path / "missing.txt")], BuildOptions(out=tmp_path / "o"))
    with pytest.raises(DataError, match="matched no file"):
        build_corpus([str(tmp_path / "*.jsonl")], BuildOptions(out=tmp_path / "o"))
    with pytest.raises(DataError, match="no input file left"):
        build_corpus([str(tmp_path / "a.txt")], BuildOptions(out=tmp_path / "o", exclude=["*.txt"]))
    with pytest.raises(DataError, match="near-threshold"):
        build_corpus([str(tmp_path)], BuildOptions(out=tmp_path / "o", near_threshold=1.5))
    with pytest.raises(DataError, match="snapshot-date"):
        build_corpus([str(tmp_path)], BuildOptions(out=tmp_path / "o", snapshot_date="June"))


# --- CLI ---------------------------------------------------------------------------------------------------------


def test_cli_build_overwrite_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("\n\n".join(english(s) for s in range(3)))
    out = tmp_path / "out"
    argv = ["corpus", "build", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--workers", "0",
            "--snapshot-date", "2024-06-01"]
    assert main(argv) == 0
    assert "kept 3 documents" in capsys.readouterr().out
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*argv, "--overwrite", "--no-near-dedup"]) == 0
    assert json.loads((out / "manifest.json").read_text())["options"]["near_dedup"] is False
    (tmp_path / "in" / "b.jsonl").write_text('{"text": "cut')
    assert main([*argv[:4], str(tmp_path / "o1"), "--quiet"]) == 0
    assert "WARNING: 1 input problem(s): bad_json 1" in capsys.readouterr().err
    assert main(["corpus", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*argv[:4], str(tmp_path / "o3"), "--top-ngram-thresholds", "a,b"]) == 2
    assert "--top-ngram-thresholds" in capsys.readouterr().err
    assert main([*argv[:4], str(tmp_path / "o4"), "--min-alpha-ratio", "2"]) == 2


def test_cli_help_teaches(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["corpus", "build", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("Examples:", "--no-near-dedup", "--exclude", "near_duplicate", "manifest.json", "KEPT"):
        assert needle in text
