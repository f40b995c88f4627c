"""The run harness (train/run.py): the output folder (stale files, resume, finished stages), the one meaning of
eval_every, the best step, results.json / done.json, checkpoint pruning and the option checks."""

from __future__ import annotations

import json
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
