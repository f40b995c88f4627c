"""The runner on a registry of small test stages: order, skip-when-complete, failure naming the stage, resume
after the last complete stage, re-runs when an option or an input file changes (saying why), a truthful resume
message, and a run folder moved elsewhere."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from wellread.recipe.base import StageContext, StageResult, StageType
from wellread.recipe.runner import Runner, StageFailed
from wellread.recipe.schema import parse_recipe


@dataclass
class WriteOptions:
    source: str | None = None
    word: str = "hello"
    fail: bool = False
    checkpoint: bool = False


@dataclass
class CountOptions:
    text: str | None = None


CALLS: list[tuple[str, bool]] = []


def run_write(opts: WriteOptions, ctx: StageContext) -> StageResult:
    CALLS.append((ctx.name, ctx.resume))
    source = Path(ctx.inputs["source"]).read_text()
    (ctx.out / "partial").write_text("started")
    if opts.checkpoint:
        (ctx.out / "checkpoint").mkdir(exist_ok=True)  # what a training stage continues from
    if opts.fail:
        raise ValueError("the stage broke")
    (ctx.out / "text.txt").write_text(f"{source} {opts.word}")
    return StageResult({"text": str(ctx.out / "text.txt")}, f"wrote {opts.word}")


def run_count(opts: CountOptions, ctx: StageContext) -> StageResult:
    CALLS.append((ctx.name, ctx.resume))
    words = len(Path(ctx.inputs["text"]).read_text().split())
    return StageResult({"count": str(ctx.out)}, f"{words} words", {"words": words})


REGISTRY = {
    "write": StageType(WriteOptions, run_write, {"source": "raw"}, ("text",), resumable=True),
    "count": StageType(CountOptions, run_count, {"text": "text"}, ("count",)),
}


def recipe_text(tmp_path: Path, fail: str = "false", word: str = "hello", checkpoint: str = "false",
                out: str = "work") -> str:
    return f"""\
name: test
out: {tmp_path / out}
stages:
  - stage: write
    name: first
    source: {tmp_path / 'input.txt'}
  - stage: write
    name: second
    source: {tmp_path / 'input.txt'}
    word: {word}
    fail: {fail}
    checkpoint: {checkpoint}
  - stage: count
"""


def run(tmp_path: Path, **kwargs) -> list:
    CALLS.clear()
    recipe = parse_recipe(recipe_text(tmp_path, **kwargs), {k: v.options for k, v in REGISTRY.items()}, "t.yaml")
    return Runner(recipe, REGISTRY).run()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "input.txt"
    path.write_text("one two")
    return path


def test_stages_run_in_order_feed_each_other_and_are_skipped_when_complete(tmp_path, source, capsys):
    records = run(tmp_path)
    assert CALLS == [("first", False), ("second", False), ("count", False)]
    assert records[2].details == {"words": 3}  # count read the output of `second`, the latest text
    assert "summary of recipe 'test'" in capsys.readouterr().out
    run(tmp_path)
    assert CALLS == []
    assert capsys.readouterr().out.count("already complete, skipped") == 3


def test_a_failing_stage_is_named_and_stops_the_run(tmp_path, source, capsys):
    with pytest.raises(StageFailed) as info:
        run(tmp_path, fail="true")
    message = str(info.value)
    assert message.startswith("stage 'second' (2/3, t.yaml line 7) failed: the stage broke")
    out = capsys.readouterr().out
    assert "FAILED" in out and "not run" in out
    assert not (tmp_path / "work" / ".stages" / "second.json").exists()
    assert (tmp_path / "work" / ".stages" / "first.json").exists()


def test_rerun_after_a_fix(tmp_path, source):
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")
    run(tmp_path)
    # `first` is skipped; `second` (its option changed: a new key) starts over, not resuming; count follows
    assert CALLS == [("second", False), ("count", False)]


def test_an_interrupted_stage_with_the_same_options_resumes(tmp_path, source):
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")
    assert CALLS == [("second", True)]  # same key as the interrupted run: its folder is kept


def test_a_changed_option_reruns_that_stage_and_everything_after(tmp_path, source):
    run(tmp_path)
    run(tmp_path, word="again")
    assert CALLS == [("second", False), ("count", False)]
    assert (tmp_path / "work" / "second" / "text.txt").read_text() == "one two again"


def test_a_changed_input_file_reruns_everything_that_reads_it(tmp_path, source):
    run(tmp_path)
    source.write_text("a new snapshot of the corpus")
    records = run(tmp_path)
    assert [name for name, _ in CALLS] == ["first", "second", "count"]
    assert records[2].details == {"words": 7}


def test_fingerprints_follow_files_folders_globs_and_split_items(tmp_path):
    from wellread.recipe.runner import fingerprint

    (tmp_path / "a.txt").write_text("one")
    before = [fingerprint(str(tmp_path)), fingerprint(str(tmp_path / "*.txt")), fingerprint(f"train={tmp_path}/a.txt")]
    assert fingerprint("google/bert_uncased_L-2_H-128_A-2") == "google/bert_uncased_L-2_H-128_A-2"
    (tmp_path / "b.txt").write_text("two")
    after = [fingerprint(str(tmp_path)), fingerprint(str(tmp_path / "*.txt")), fingerprint(f"train={tmp_path}/a.txt")]
    assert after[0] != before[0] and after[1] != before[1] and after[2] == before[2]


def test_a_deleted_output_reruns_its_stage_and_the_ones_after(tmp_path, source):
    run(tmp_path)
    (tmp_path / "work" / "second" / "text.txt").unlink()
    run(tmp_path)
    assert [name for name, _ in CALLS] == ["second", "count"]


def test_an_interrupted_stage_says_whether_it_has_anything_to_resume(tmp_path, source, capsys):
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")
    capsys.readouterr()
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true", checkpoint="true")  # another key: starts clean, then saves a checkpoint
    assert "resuming" not in capsys.readouterr().out
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")  # a new key again, nothing saved
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true")
    out = capsys.readouterr().out
    assert "second (write): an interrupted run saved no checkpoint yet (see save_every), so it starts from step 0" \
        in out and "resuming" not in out
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true", checkpoint="true")
    with pytest.raises(StageFailed):
        run(tmp_path, fail="true", checkpoint="true")
    assert "second (write): resuming an interrupted run from what it saved" in capsys.readouterr().out
    assert CALLS == [("second", True)]


def test_a_moved_run_folder_keeps_its_finished_stages(tmp_path, source):
    run(tmp_path)
    shutil.move(tmp_path / "work", tmp_path / "moved")
    records = run(tmp_path, out="moved")
    assert CALLS == []  # every stage found complete where the folder is now
    assert records[1].outputs == {"text": str(tmp_path / "moved" / "second" / "text.txt")}
    assert records[2].inputs == {"text": str(tmp_path / "moved" / "second" / "text.txt")}
    marker = json.loads((tmp_path / "moved" / ".stages" / "second.json").read_text())
    assert marker["outputs"] == {"text": "$OUT/second/text.txt"}
    assert marker["inputs"] == {"source": str(tmp_path / "input.txt")}  # outside the run folder: as given
    shutil.copytree(tmp_path / "moved", tmp_path / "copy")
    records = run(tmp_path, out="copy")
    assert CALLS == [] and records[2].inputs == {"text": str(tmp_path / "copy" / "second" / "text.txt")}


def test_a_stage_that_runs_again_says_why(tmp_path, source, capsys):
    run(tmp_path)
    run(tmp_path, word="again")
    out = capsys.readouterr().out
    assert "[2/3] second: finished before, runs again: its options changed" in out
    assert "[3/3] count: finished before, runs again: the stage before it ran again" in out
    source.write_text("a new snapshot")
    run(tmp_path, word="again")
    assert ("[1/3] first: finished before, runs again: the input files its options name changed (path, size or "
            "modification time)") in capsys.readouterr().out
    (tmp_path / "work" / "second" / "text.txt").unlink()
    run(tmp_path, word="again")
    assert (f"[2/3] second: finished before, runs again: its output {tmp_path / 'work' / 'second' / 'text.txt'} "
            "is missing") in capsys.readouterr().out
