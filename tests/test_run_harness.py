"""The run harness (train/run.py): the output folder (stale files, resume, finished stages), the one meaning of
eval_every, the best step, results.json / done.json, checkpoint pruning and the option checks."""

from __future__ import annotations

import json
import pickle
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from wellread.errors import WellreadError
from wellread.train.run import Run, RunOptions


class Line:
    """y = 2x on `n` points; the evaluation's score is minus the mean squared error."""

    def __init__(self, n: int = 10, fail_at: int = 0) -> None:
        self.x = torch.linspace(-1, 1, n)[:, None]
        self.y = 2 * self.x
        self.fail_at, self.steps = fail_at, 0

    def num_examples(self) -> int:
        return len(self.x)

    def collate(self, indices: list[int], seed: int) -> dict:
        return {"x": self.x[indices], "y": self.y[indices]}

    def weight(self, batch: dict) -> float:
        return float(len(batch["x"]))

    def loss(self, model: nn.Module, batch: dict) -> tuple[Tensor, dict[str, float]]:
        self.steps += 1
        if self.steps == self.fail_at:
            raise KeyboardInterrupt
        return ((model(batch["x"]) - batch["y"]) ** 2).sum(), {}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        return {"score": -float(((model(self.x) - self.y) ** 2).mean())}

    def save(self, model: nn.Module, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), folder / "model.pt")

    def load(self, model: nn.Module, folder: Path) -> None:
        model.load_state_dict(torch.load(folder / "model.pt"))


def train(out: Path, resume: bool = False, keep: bool = False, fail_at: int = 0, job=None, overwrite: bool = False,
          **fields) -> Run:
    run = Run(RunOptions(out, resume=resume, keep_checkpoints=keep, bf16="off", job=job, overwrite=overwrite))
    torch.manual_seed(0)
    fields = {"epochs": 2, "batch_size": 4, "lr": 0.1, "warmup": 0, "progress": False} | fields
    run.train(nn.Linear(1, 1), Line(fail_at=fail_at), run.args(**fields))
    return run


@pytest.mark.parametrize(("eval_every", "drop_last", "steps"), [
    (None, False, [3, 6]),    # default: once per epoch (10 examples, batches of 4: 3 steps an epoch)
    (0, False, [6]),          # only at the end
    (2, False, [2, 4, 6]),    # every 2 steps
    (None, True, [2, 4]),     # an epoch is the Trainer's: complete batches only with drop_last
])
def test_eval_every_has_one_meaning(tmp_path: Path, eval_every, drop_last, steps) -> None:
    run = train(tmp_path, eval_every=eval_every, drop_last=drop_last)
    assert [r["step"] for r in run.trainer.history] == steps


def test_finish_writes_results_picks_the_best_step_and_prunes_checkpoints(tmp_path: Path) -> None:
    run = train(tmp_path / "a", eval_every=1, select_metric="score", save_every=2)
    scores = [r["score"] for r in run.trainer.history]
    assert run.best_step() == 1 + scores.index(max(scores)) and run.best()["score"] == max(scores)
    assert (tmp_path / "a" / "best").is_dir() and (tmp_path / "a" / "checkpoint").is_dir()
    results = run.finish(lambda: {"best_step": run.best_step()})
    assert json.loads((tmp_path / "a" / "results.json").read_text()) == results
    assert not (tmp_path / "a" / "best").exists() and not (tmp_path / "a" / "checkpoint").exists()

    kept = train(tmp_path / "b", keep=True)
    done = kept.finish()
    assert done == {"steps": 6, "eval": kept.last_eval} == json.loads((tmp_path / "b" / "done.json").read_text())
    assert (tmp_path / "b" / "checkpoint" / "trainer_state.json").is_file()


def test_the_output_folder_is_cleaned_resumed_or_kept(tmp_path: Path) -> None:
    train(tmp_path, keep=True).finish()
    (tmp_path / "results.json").write_text("{}")
    assert Run(RunOptions(tmp_path, resume=True)).done is not None  # a finished stage is not run again
    assert (tmp_path / "results.json").is_file() and (tmp_path / "checkpoint").is_dir()

    (tmp_path / "done.json").unlink()
    resumed = Run(RunOptions(tmp_path, resume=True))
    assert resumed.done is None and resumed.resuming and (tmp_path / "log.jsonl").is_file()

    fresh = Run(RunOptions(tmp_path))
    assert not fresh.resuming and fresh.done is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "written_by.json"]  # stale run files gone


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    whole = train(tmp_path / "whole", save_every=2)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "part", save_every=2, fail_at=5)  # stopped in step 5: the checkpoint is step 4's
    resumed = train(tmp_path / "part", resume=True, save_every=2)
    assert resumed.resuming and resumed.last_eval == whole.last_eval
    assert [r["step"] for r in resumed.trainer.history] == [3, 6]


def test_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(WellreadError, match="device 'cuda'"):
        Run(RunOptions(tmp_path, device="cuda"))
    with pytest.raises(WellreadError, match="--bf16 must be auto, on or off"):
        Run(RunOptions(tmp_path, bf16="yes"))


# --- resume state without pickles (issue 20, item 5) ----------------------------------------------------------


class Planted:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


@pytest.mark.parametrize("name", ["trainer_state.pt", "trainer_state.json", "trainer_state.safetensors"])
def test_a_planted_pickle_in_the_checkpoint_never_runs(tmp_path: Path, name: str) -> None:
    out, ran = tmp_path / "out", tmp_path / "pwned"
    with pytest.raises(KeyboardInterrupt):
        train(out, save_every=2, fail_at=5)
    checkpoint = out / "checkpoint"
    if name == "trainer_state.pt":  # where older versions kept the state: the only state file there
        for state_file in checkpoint.glob("trainer_state.*"):
            state_file.unlink()
    with open(checkpoint / name, "wb") as f:
        pickle.dump(Planted(ran), f)
    with pytest.raises(WellreadError) as caught:
        train(out, resume=True, save_every=2)
    assert not ran.exists()
    assert "\n" not in str(caught.value) and "trainer_state" in str(caught.value)
    assert "without --resume" in str(caught.value)


def test_the_resume_state_holds_only_json_and_safetensors(tmp_path: Path) -> None:
    train(tmp_path, keep=True).finish()
    checkpoint = tmp_path / "checkpoint"
    assert sorted(p.name for p in checkpoint.glob("trainer_state*")) == ["trainer_state.json",
                                                                         "trainer_state.safetensors"]
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["step"] == 6 and state["rng"]["python"]["tuple"][0] == 3


# --- resume with other options (issue 20, item 4) -------------------------------------------------------------


@dataclass
class Job:
    lr: float = 0.1
    seed: int = 0
    threads: int = 0
    eval_every: int | None = None


def interrupted(out: Path, job: Job) -> None:
    with pytest.raises(KeyboardInterrupt):
        train(out, save_every=2, fail_at=5, job=job, lr=job.lr, seed=job.seed)


def test_resume_with_other_options_is_refused_with_the_differences(tmp_path: Path) -> None:
    interrupted(tmp_path, Job())
    with pytest.raises(WellreadError) as caught:
        train(tmp_path, resume=True, save_every=2, job=Job(lr=0.2, seed=1), lr=0.2, seed=1)
    message = str(caught.value)
    assert "--lr 0.1 in the checkpoint, 0.2 now" in message and "--seed 0 in the checkpoint, 1 now" in message
    assert "--resume" in message and "\n" not in message


def test_resume_compares_the_loop_options_too(tmp_path: Path) -> None:
    interrupted(tmp_path, Job())
    with pytest.raises(WellreadError, match="batch_size 4 in the checkpoint, 2 now"):
        train(tmp_path, resume=True, save_every=2, job=Job(), batch_size=2)


def test_options_that_may_change_apply_and_are_recorded(tmp_path: Path) -> None:
    interrupted(tmp_path, Job())
    resumed = train(tmp_path, resume=True, save_every=2, job=Job(threads=1, eval_every=1), eval_every=1)
    assert [r["step"] for r in resumed.trainer.history] == [3, 5, 6]  # every step from the resume (step 4) on
    results = resumed.finish(lambda: {"lr": 0.1})
    assert results["resumed"] == {"step": 4, "changed": {"threads": {"checkpoint": 0, "now": 1},
                                                          "eval_every": {"checkpoint": None, "now": 1}}}
    assert json.loads((tmp_path / "results.json").read_text()) == results


# --- the output folder (issue 20, item 2) ---------------------------------------------------------------------


@dataclass
class Finetune:
    task: str
    model: str


def test_another_runs_folder_needs_overwrite(tmp_path: Path) -> None:
    train(tmp_path, job=Finetune("mnli", "base")).finish(lambda: {"labels": 3})
    (tmp_path / "model.onnx").write_bytes(b"old")
    with pytest.raises(WellreadError, match="task 'mnli' \\(this run: 'sst2'\\).*--overwrite"):
        train(tmp_path, job=Finetune("SST-2", "base"))
    assert json.loads((tmp_path / "results.json").read_text()) == {"labels": 3}  # untouched
    train(tmp_path, job=Finetune("MNLI", "base")).finish(lambda: {"labels": 3})  # the same command again
    train(tmp_path, job=Finetune("sst2", "base"), overwrite=True).finish(lambda: {"labels": 2})
    assert json.loads((tmp_path / "written_by.json").read_text())["task"] == "sst2"
    assert not (tmp_path / "model.onnx").exists()  # derived from the old weights


def test_a_model_folder_without_a_record_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WellreadError, match="did not record"):
        train(tmp_path, job=Finetune("sst2", "base"))
    train(tmp_path, job=Finetune("sst2", "base"), overwrite=True)
    assert not (tmp_path / "config.json").exists() and (tmp_path / "notes.txt").is_file()
    only_mine = tmp_path / "other"
    only_mine.mkdir()
    (only_mine / "notes.txt").write_text("mine")
    train(only_mine, job=Finetune("sst2", "base"))  # files wellread does not write are no model or run


def test_a_killed_run_leaves_no_old_weights_beside_its_log(tmp_path: Path) -> None:
    job = Finetune("sst2", "base")
    train(tmp_path, job=job).finish(lambda: {})
    for name in ("model.safetensors", "config.json", "vocab.txt", "model.onnx", "onnx_check.json"):
        (tmp_path / name).write_text("old")
    (tmp_path / "README.md").write_text("---\nlicense: mit\nwellread_fingerprint: sha256:0\n---\n# old card\n")
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, job=job, fail_at=3)
    assert (tmp_path / "log.jsonl").is_file()
    left = {p.name for p in tmp_path.iterdir()}
    assert not left & {"model.safetensors", "config.json", "vocab.txt", "model.onnx", "onnx_check.json",
                       "results.json", "README.md"}
    (tmp_path / "README.md").write_text("# my notes\n")  # the user's own README stays
    train(tmp_path, job=job)
    assert (tmp_path / "README.md").read_text() == "# my notes\n"


def test_a_full_disk_keeps_the_old_results(tmp_path: Path) -> None:
    train(tmp_path, keep=True).finish(lambda: {"old": 1})
    resumed = train(tmp_path, resume=True)  # at its last step already: only finishes again
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))  # files may not grow past 64 bytes: a full disk
    try:
        with pytest.raises(WellreadError, match="cannot write .*results.json.*previous file"):
            resumed.finish(lambda: {"new": "x" * 200})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert json.loads((tmp_path / "results.json").read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.glob(".*tmp")] == []
