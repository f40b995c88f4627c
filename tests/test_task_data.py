"""Task readers: every GLUE layout, SICK, SQuAD, CoNLL and custom files from small fixtures written here, then the
real files of the shared data folder (skipped unless WELLREAD_DATA is set)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers import write

from wellread.errors import DataError
from wellread.tasks import (
    DataWarning,
    entity_metrics,
    evaluate_squad,
    get_task,
    iob1_to_iob2,
    label_permutation,
    load_custom,
    load_glue,
    load_glue_hf,
    load_sick,
    read_conll,
    read_squad,
    read_task_file,
    tag_labels,
    write_predictions,
)


def tsv(*rows: tuple) -> str:
    return "".join("\t".join(map(str, row)) + "\n" for row in rows)


# --- GLUE layouts ---------------------------------------------------------------------------------


STSB_HEADER = ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
               "score")

def test_cola_headerless_train_and_test_with_header(tmp_path):
    write(
        tmp_path / "CoLA/train.tsv",
        tsv(("gj04", 1, "", "Our friends won't buy this."), ("gj04", 0, "*", "They drank the pub.")),
    )
    write(tmp_path / "CoLA/test.tsv", tsv(("index", "sentence"), (0, "Bill whistled past the house.")))
    train = load_glue("cola", tmp_path, "train")  # GLUE root: the CoLA folder is found
    assert [(e.text_a, e.text_b, e.label, e.line) for e in train] == [
        ("Our friends won't buy this.", None, "1", 1),
        ("They drank the pub.", None, "0", 2),
    ]
    test = load_glue("CoLA", tmp_path / "CoLA", "test")
    assert test[0].label is None and test[0].guid == "0" and test[0].text_a == "Bill whistled past the house."


def test_sst2(tmp_path):
    write(tmp_path / "train.tsv", tsv(("sentence", "label"), ("it 's a charming journey . ", 1), ("bleak ", 0)))
    examples = load_glue("SST-2", tmp_path, "train")
    assert [(e.text_a, e.label) for e in examples] == [("it 's a charming journey . ", "1"), ("bleak ", "0")]


MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")


def test_mrpc_quote_inside_sentence_bom_and_crlf(tmp_path):
    text = tsv(
        MRPC_HEADER, (1, 702876, 702977, 'He said "the witness, of', 'Referring to him as "the witness"')
    ).replace("\n", "\r\n")
    write(tmp_path / "msr_paraphrase_train.txt", "\ufeff" + text)  # the original MSR file name and encoding
    [example] = load_glue("mrpc", tmp_path, "train")
    assert example.text_a == 'He said "the witness, of'
    assert example.text_b == 'Referring to him as "the witness"'
    assert example.label == "1"


def test_stsb_float_scores(tmp_path):
    header = STSB_HEADER
    write(
        tmp_path / "dev.tsv",
        tsv(header, (0, "main-captions", "MSRvid", "2012test", 1, "none", "none", "A man.", "A guy.", "5.000")),
    )
    [example] = load_glue("sts-b", tmp_path, "dev")
    assert example.label == 5.0 and isinstance(example.label, float) and example.text_b == "A guy."


def test_qqp_bad_rows_are_reported_or_skipped_with_a_warning(tmp_path):
    path = write(
        tmp_path / "train.tsv",
        tsv(
            ("id", "qid1", "qid2", "question1", "question2", "is_duplicate"),
            (1, 1, 2, "How do I learn?", "How can I learn?", 1),
            (2, 3, 4, "A question cut by a newline"),
            (3, 5, 6, "Q?", "R?", 0),
        ),
    )
    with pytest.raises(DataError) as error:
        load_glue("qqp", tmp_path, "train")
    message = str(error.value)
    assert "1 bad row(s)" in message and f"{path}:3: expected 6 tab-separated fields, found 4" in message
    with pytest.warns(DataWarning, match=r"train.tsv:3"):
        examples = load_glue("qqp", tmp_path, "train", skip_bad_rows=True)
    assert [e.guid for e in examples] == ["1", "3"]


MNLI_TRAIN = (
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label",
)  # fmt: skip
MNLI_DEV = MNLI_TRAIN[:11] + ("label2", "label3", "label4", "label5", "gold_label")


def _mnli_row(index, premise, hypothesis, label, extra_labels=0):
    return (
        (index, 1, "1e", "fiction", "( p )", "( h )", "(ROOT p)", "(ROOT h)", premise, hypothesis)
        + (label,) * (1 + extra_labels)
        + (label,)
    )


def test_mnli_train_matched_and_mismatched(tmp_path):
    write(tmp_path / "train.tsv", tsv(MNLI_TRAIN, _mnli_row(0, "P0", "H0", "neutral")))
    write(tmp_path / "dev_matched.tsv", tsv(MNLI_DEV, _mnli_row(7, "Pm", "Hm", "entailment", extra_labels=4)))
    write(tmp_path / "dev_mismatched.tsv", tsv(MNLI_DEV, _mnli_row(9, "Px", "Hx", "contradiction", extra_labels=4)))
    assert [(e.text_a, e.label) for e in load_glue("mnli", tmp_path, "train")] == [("P0", "neutral")]
    [matched] = load_glue("mnli", tmp_path, "dev")
    [mismatched] = load_glue("mnli", tmp_path, "dev_mm")
    assert (matched.text_a, matched.text_b, matched.label, matched.guid) == ("Pm", "Hm", "entailment", "7")
    assert (mismatched.text_a, mismatched.label) == ("Px", "contradiction")
    spec = get_task("mnli")
    assert spec.labels == ("contradiction", "entailment", "neutral") and spec.label_id("entailment") == 1


@pytest.mark.parametrize(
    ("task", "header", "row", "expected"),
    [
        (
            "qnli",
            ("index", "question", "sentence", "label"),
            (0, "Q?", "S.", "not_entailment"),
            ("Q?", "S.", "not_entailment"),
        ),
        (
            "rte",
            ("index", "sentence1", "sentence2", "label"),
            (0, "A.", "B.", "entailment"),
            ("A.", "B.", "entailment"),
        ),
        ("wnli", ("index", "sentence1", "sentence2", "label"), (0, "A.", "B.", 1), ("A.", "B.", "1")),
    ],
)
def test_nli_pair_tasks(tmp_path, task, header, row, expected):
    write(tmp_path / "train.tsv", tsv(header, row))
    [example] = load_glue(task, tmp_path, "train")
    assert (example.text_a, example.text_b, example.label) == expected


def test_malformed_rows_all_reported_with_file_and_line(tmp_path):
    header = STSB_HEADER
    good = (0, "g", "f", "y", 0, "s", "s", "A.", "B.")
    path = write(tmp_path / "train.tsv", tsv(header, good + ("1.5",), good + ("high",), good + ("nan",), good))
    with pytest.raises(DataError) as error:
        read_task_file("stsb", path)
    message = str(error.value)
    assert "3 bad row(s)" in message
    assert f"{path}:3: score 'high' is not a number" in message
    assert f"{path}:4: score 'nan' is not a finite number" in message
    assert f"{path}:5: expected 10 tab-separated fields, found 9" in message
    rte = write(tmp_path / "rte.tsv", tsv(("index", "sentence1", "sentence2", "label"), (0, "A", "B", "maybe")))
    with pytest.raises(DataError, match=r"rte.tsv:2: unknown label 'maybe' \(labels: entailment, not_entailment\)"):
        read_task_file("rte", rte)


def test_missing_file_header_or_label_column(tmp_path):
    with pytest.raises(DataError, match="no train file for rte"):
        load_glue("rte", tmp_path, "train")
    write(tmp_path / "train.tsv", tsv(("id", "text", "label"), (0, "A", "entailment")))
    with pytest.raises(DataError, match=r"header has no column 'sentence1', 'sentence2' for rte; columns found"):
        load_glue("rte", tmp_path, "train")
    write(tmp_path / "dev.tsv", tsv(("index", "sentence1", "sentence2"), (0, "A", "B")))
    with pytest.raises(DataError, match="no label column 'label'"):
        load_glue("rte", tmp_path, "dev")
    with pytest.raises(DataError, match="has no split 'dev_mm'"):
        load_glue("rte", tmp_path, "dev_mm")


class FakeClassLabel:
    def __init__(self, names):
        self.names = names


class FakeDataset(list):
    def __init__(self, rows, names):
        super().__init__(rows)
        self.features = {"label": FakeClassLabel(names)}


def test_hf_loader_maps_labels_by_name():
    rows = [
        {"premise": "P", "hypothesis": "H", "label": 0, "idx": 5},
        {"premise": "P2", "hypothesis": "H2", "label": 2, "idx": 6},
    ]
    examples = load_glue_hf("mnli", "dev", dataset=FakeDataset(rows, ["entailment", "neutral", "contradiction"]))
    assert [(e.text_a, e.text_b, e.label, e.guid) for e in examples] == [
        ("P", "H", "entailment", "5"),
        ("P2", "H2", "contradiction", "6"),
    ]
    sst = load_glue_hf("sst2", "test", dataset=[{"sentence": "fine .", "label": -1, "idx": 0}])
    assert sst[0].label is None
    cola = load_glue_hf(
        "cola", "train", dataset=FakeDataset([{"sentence": "x", "label": 1}], ["unacceptable", "acceptable"])
    )
    assert cola[0].label == "1"
    with pytest.raises(DataError, match="label names"):
        load_glue_hf("mnli", "train", dataset=FakeDataset(rows, ["contradiction", "entailment", "neutral"]))
    with pytest.raises(DataError, match="is not one of the 2 class ids"):
        load_glue_hf("rte", "train", dataset=[{"sentence1": "a", "sentence2": "b", "label": 7}])


def test_label_permutation_between_hf_and_wellread_mnli_order():
    hf = ["entailment", "neutral", "contradiction"]
    perm = label_permutation(hf, get_task("mnli").labels)
    assert perm == [2, 0, 1]
    logits_hf = [0.1, 0.2, 0.7]  # contradiction
    assert [logits_hf[i] for i in perm] == [0.7, 0.1, 0.2]
    with pytest.raises(ValueError):
        label_permutation(["a", "b"], ["a", "c"])


# --- SICK -----------------------------------------------------------------------------------------

SICK_HEADER = ("pair_ID", "sentence_A", "sentence_B", "relatedness_score", "entailment_judgment")


def test_sick_relatedness_and_entailment(tmp_path):
    write(tmp_path / "SICK_train.txt", tsv(SICK_HEADER, (1, "Kids play.", "Boys play.", 4.5, "NEUTRAL")))
    write(tmp_path / "SICK_trial.txt", tsv(SICK_HEADER, (4, "A dog.", "No dog.", 3.6, "CONTRADICTION")))
    [relatedness] = load_sick(tmp_path, "train", "sick-r")
    assert (relatedness.text_a, relatedness.text_b, relatedness.label, relatedness.guid) == (
        "Kids play.",
        "Boys play.",
        4.5,
        "1",
    )
    [entailment] = load_sick(tmp_path, "dev", "sick-e")
    assert entailment.label == "CONTRADICTION" and get_task("sick-e").label_id("CONTRADICTION") == 0
    assert get_task("sick-r").is_regression and get_task("sick_r").metrics == ("sickr_pear", "sickr_spear")


# --- SQuAD ----------------------------------------------------------------------------------------


def squad(qas, context="Denver Broncos won Super Bowl 50.", version="1.1"):
    return {"version": version, "data": [{"title": "SB", "paragraphs": [{"context": context, "qas": qas}]}]}


def test_squad_v1_parsing_and_offsets(tmp_path):
    qas = [
        {
            "id": "q1",
            "question": "Who won?",
            "answers": [{"text": "Denver Broncos", "answer_start": 0}, {"text": "Broncos", "answer_start": 7}],
        }
    ]
    path = write(tmp_path / "v1.json", json.dumps(squad(qas)))
    [example] = read_squad(path)
    assert example.id == "q1" and example.title == "SB" and not example.is_impossible
    assert example.answers == [("Denver Broncos", 0), ("Broncos", 7)] and example.answers[1].start == 7
    assert evaluate_squad([example], {"q1": "the Broncos"}) == {
        "exact": 100.0,
        "f1": 100.0,
        "total": 1.0,
        "missing": 0.0,
    }
    qas[0]["answers"][1]["answer_start"] = 8
    qas.append({"id": "q2", "question": "?", "answers": [{"text": "Super Bowl", "answer_start": 0}]})
    bad = write(tmp_path / "bad.json", json.dumps(squad(qas)))
    with pytest.raises(DataError) as error:
        read_squad(bad)
    message = str(error.value)
    assert (
        "2 answer(s)" in message
        and "question q1: answer 'Broncos' not at offset 8" in message
        and "question q2" in message
    )
    assert len(read_squad(bad, check_offsets=False)) == 2


def test_squad_v2_impossible_questions_and_structure_errors(tmp_path):
    qas = [
        {
            "id": "a",
            "question": "Who won?",
            "answers": [{"text": "Denver Broncos", "answer_start": 0}],
            "is_impossible": False,
        },
        {
            "id": "n",
            "question": "Who lost?",
            "answers": [],
            "plausible_answers": [{"text": "Denver", "answer_start": 0}],
            "is_impossible": True,
        },
    ]
    examples = read_squad(write(tmp_path / "v2.json", json.dumps(squad(qas, version="v2.0"))))
    assert [e.is_impossible for e in examples] == [False, True] and examples[1].answers == []
    result = evaluate_squad(examples, {"a": "Denver Broncos", "n": ""})
    assert result["HasAns_exact"] == 100.0 and result["NoAns_exact"] == 100.0 and result["NoAns_total"] == 1
    del qas[0]["question"]
    with pytest.raises(DataError, match=r"data\[0\]\.paragraphs\[0\]\.qas\[0\] \(id a\): missing 'question'"):
        read_squad(write(tmp_path / "broken.json", json.dumps(squad(qas))))
    with pytest.raises(DataError, match="not valid JSON"):
        read_squad(write(tmp_path / "trunc.json", '{"data": ['))


def test_write_predictions_official_format(tmp_path):
    write_predictions(tmp_path / "out/predictions.json", {"q1": "Broncos", "q2": ""}, na_probs={"q2": 0.9})
    assert json.loads((tmp_path / "out/predictions.json").read_text()) == {"q1": "Broncos", "q2": ""}
    assert json.loads((tmp_path / "out/predictions_na_probs.json").read_text()) == {"q2": 0.9}


# --- CoNLL ----------------------------------------------------------------------------------------

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def test_conll2003_docstart_and_sentences(tmp_path):
    sentences = read_conll(write(tmp_path / "train.txt", CONLL))
    assert [s.tokens for s in sentences] == [["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert sentences[1].tags == ["B-PER", "I-PER"] and sentences[1].line == 7
    assert tag_labels(sentences) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    pos = read_conll(tmp_path / "train.txt", tag_column=1, scheme="none")
    assert pos[0].tags == ["NNP", "VBZ", "JJ"] and tag_labels(pos) == ["JJ", "NNP", "VBZ"]


def test_iob1_rejected_as_iob2_and_converted_on_request(tmp_path):
    path = write(tmp_path / "iob1.txt", "Peter I-PER\nBlackburn I-PER\nJohn B-PER\nin O\nParis I-LOC\nFrance I-LOC\n")
    with pytest.raises(DataError) as error:
        read_conll(path)
    assert f"{path}:1: I-PER after sentence start is not valid IOB2" in str(error.value)
    assert f"{path}:5: I-LOC after O" in str(error.value) and "scheme='iob1'" in str(error.value)
    [sentence] = read_conll(path, scheme="iob1")
    assert sentence.tags == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "I-LOC"]
    assert iob1_to_iob2(["I-PER", "I-LOC", "I-LOC"]) == ["B-PER", "B-LOC", "I-LOC"]


def test_conll_bad_tags_columns_and_brown_pos(tmp_path):
    bad = write(tmp_path / "bad.txt", "A B-PER\nB X-PER\n\nC O extra\n")
    with pytest.raises(DataError) as error:
        read_conll(bad)
    assert "bad.txt:2: tag 'X-PER' is not O, B-TYPE or I-TYPE" in str(error.value)
    assert "bad.txt:4: expected 2 columns, found 3" in str(error.value)
    with pytest.raises(DataError, match="column 5 does not exist"):
        read_conll(bad, tag_column=5)
    brown = read_conll(write(tmp_path / "pos.conll", "The\tat\nFulton\tnp-tl\n\nJury\tnn-tl\n"), scheme="none")
    assert [s.tags for s in brown] == [["at", "np-tl"], ["nn-tl"]]


# --- custom files ---------------------------------------------------------------------------------


def test_custom_csv_tsv_jsonl(tmp_path):
    csv_path = write(tmp_path / "d.csv", 'id,text,other,label\n7,"Hello, ""world""",x,pos\n8,Bye,y,neg\n')
    examples = load_custom(csv_path, "text", label_column="label", labels=["neg", "pos"])
    assert [(e.text_a, e.label, e.guid, e.line) for e in examples] == [
        ('Hello, "world"', "pos", "7", 2),
        ("Bye", "neg", "8", 3),
    ]
    tsv_path = write(tmp_path / "d.tsv", 'premise\thypothesis\tscore\n"quoted\tB\t0.5\n')
    [pair] = load_custom(tsv_path, "premise", "hypothesis", "score", regression=True)
    assert (pair.text_a, pair.text_b, pair.label) == ('"quoted', "B", 0.5)
    jsonl = write(tmp_path / "d.jsonl", '{"text": "a", "label": 1}\n\n{"text": "b", "label": true}\n')
    assert [(e.text_a, e.label) for e in load_custom(jsonl)] == [("a", "1"), ("b", "true")]
    unlabelled = load_custom(jsonl, label_column=None)
    assert unlabelled[0].label is None


def test_custom_errors(tmp_path):
    path = write(tmp_path / "d.csv", "sentence,label\nHi,pos\n")
    with pytest.raises(DataError, match=r"d.csv:1: no column 'text'; columns: \['sentence', 'label'\]"):
        load_custom(path, "text")
    unknown = write(tmp_path / "u.csv", "text,label\nHi,pos\nHo,meh\n")
    with pytest.raises(DataError, match=r"u.csv:3: unknown label 'meh' in 'label' \(labels: neg, pos\)"):
        load_custom(unknown, labels=["neg", "pos"])
    empty = write(tmp_path / "e.tsv", "text\tlabel\n  \tpos\n")
    with pytest.raises(DataError, match=r"e.tsv:2: empty text in 'text'"):
        load_custom(empty)
    jsonl = write(
        tmp_path / "b.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": \n{"txt": "c", "label": "y"}\n'
    )
    with pytest.raises(DataError) as error:
        load_custom(jsonl)
    message = str(error.value)
    assert "2 bad row(s)" in message and "b.jsonl:2: not valid JSON" in message
    assert "b.jsonl:3: no 'text'; keys present: ['label', 'txt']" in message
    score = write(tmp_path / "s.csv", "text,label\nHi,high\n")
    with pytest.raises(DataError, match=r"s.csv:2: label 'high' is not a number"):
        load_custom(score, regression=True)
    with pytest.raises(DataError, match="cannot tell the format"):
        load_custom(write(tmp_path / "d.xlsx", ""))


# --- real data (WELLREAD_DATA) --------------------------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize(
    ("task", "split", "relative", "counts"),
    [
        ("sst2", "train", "glue/SST-2/train.tsv", {"1": 37569, "0": 29780}),
        ("sst2", "dev", "glue/SST-2/dev.tsv", {"1": 444, "0": 428}),
        ("mrpc", "train", "glue/MRPC/train.tsv", {"1": 2407, "0": 1169}),
        ("mrpc", "dev", "glue/MRPC/dev.tsv", {"1": 346, "0": 154}),
        ("rte", "train", "glue/RTE/train.tsv", {"entailment": 1249, "not_entailment": 1241}),
        ("rte", "dev", "glue/RTE/dev.tsv", {"entailment": 146, "not_entailment": 131}),
    ],
)
def test_real_glue_files(data_path, task, split, relative, counts):
    examples = load_glue(task, data_path(relative).parent, split)
    assert Counter(e.label for e in examples) == counts
    assert all(e.text_a for e in examples) and all((e.text_b is None) == (task == "sst2") for e in examples)


@pytest.mark.data
def test_real_sick(data_path):
    folder = data_path("sick/SICK_train.txt").parent
    for split, counts in [
        ("train", {"CONTRADICTION": 665, "ENTAILMENT": 1299, "NEUTRAL": 2536}),
        ("dev", {"CONTRADICTION": 74, "ENTAILMENT": 144, "NEUTRAL": 282}),
        ("test", {"CONTRADICTION": 720, "ENTAILMENT": 1414, "NEUTRAL": 2793}),
    ]:
        assert Counter(e.label for e in load_sick(folder, split, "sick-e")) == counts
        scores = [e.label for e in load_sick(folder, split, "sick-r")]
        assert len(scores) == sum(counts.values()) and min(scores) >= 1.0 and max(scores) <= 5.0


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "sentences", "tokens", "entities"),
    [
        pytest.param("train", 14041, 203621, {"PER": 6600, "ORG": 6321, "LOC": 7140, "MISC": 3438},
                     marks=pytest.mark.slow),
        ("valid", 3250, 51362, {"PER": 1842, "ORG": 1341, "LOC": 1837, "MISC": 922}),
        ("test", 3453, 46435, {"PER": 1617, "ORG": 1661, "LOC": 1668, "MISC": 702}),
    ],
)
def test_real_conll2003(data_path, name, sentences, tokens, entities):
    data = read_conll(data_path(f"conll2003/{name}.txt"))
    assert len(data) == sentences and sum(len(s.tokens) for s in data) == tokens
    tags = [s.tags for s in data]
    assert {t: scores.support for t, scores in entity_metrics(tags, tags).per_type.items()} == entities


@pytest.mark.data
@pytest.mark.parametrize(
    ("name", "questions", "answers"),
    [
        ("squadshifts_new_wiki_train", 7171, 20578),
        ("squadshifts_new_wiki_dev", 767, 2216),
        ("squadshifts_reddit", 9803, 27692),
        ("squadshifts_amazon_reviews", 9885, 27318),
    ],
)
def test_real_squadshifts(data_path, name, questions, answers):
    examples = read_squad(data_path(f"qa/{name}.json"))  # checks every answer offset
    assert len(examples) == questions and sum(len(e.answers) for e in examples) == answers
    assert not any(e.is_impossible for e in examples)


def test_unknown_task_is_a_user_error():
    from wellread.errors import WellreadError

    with pytest.raises(WellreadError, match="unknown task 'sst3'; known tasks: cola, sst2"):
        load_glue("sst3", ".", "train")
    assert get_task("MNLI-mm").name == "mnli" and get_task("STS_B").name == "stsb"
