"""Distillation losses against hand-computed values, and layer maps for several depths."""

from __future__ import annotations

import math

import pytest
import torch

from wellread.distill.layers import parse_layer_map, projection_for, uniform_layer_map
from wellread.distill.losses import (
    attention_score_mse,
    group_heads,
    hidden_state_mse,
    masked_soft_cross_entropy,
    mixed_loss,
    regression_distillation,
    soft_cross_entropy,
    soft_cross_entropy_rows,
    span_soft_cross_entropy,
)
from wellread.errors import WellreadError


def test_soft_cross_entropy_by_hand() -> None:
    student = torch.tensor([[0.0, math.log(3.0)]])  # P_S = (1/4, 3/4)
    teacher = torch.tensor([[math.log(2.0), 0.0]])  # P_T = (2/3, 1/3)
    expected = -(2 / 3 * math.log(1 / 4) + 1 / 3 * math.log(3 / 4))
    assert soft_cross_entropy(student, teacher).item() == pytest.approx(expected, rel=1e-6)
    # temperature 2: softmax of logits/2, times 4
    ps = torch.softmax(student / 2, -1)
    pt = torch.softmax(teacher / 2, -1)
    assert soft_cross_entropy(student, teacher, 2.0).item() == pytest.approx(
        float(-(pt * ps.log()).sum() * 4), rel=1e-6)
    # averaged over examples, not classes: two identical rows give the one-row value
    assert soft_cross_entropy(student.repeat(2, 1), teacher.repeat(2, 1)).item() == pytest.approx(expected, rel=1e-6)


def test_masked_soft_cross_entropy_ignores_padding() -> None:
    s = torch.tensor([[[0.0, math.log(3.0)], [5.0, -5.0]]])
    t = torch.tensor([[[math.log(2.0), 0.0], [-9.0, 9.0]]])
    mask = torch.tensor([[True, False]])
    assert masked_soft_cross_entropy(s, t, mask).item() == pytest.approx(
        soft_cross_entropy(s[0, :1], t[0, :1]).item())


def test_regression_and_hidden_mse() -> None:
    assert regression_distillation(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])).item() == pytest.approx(2.5)
    s = torch.zeros(1, 3, 2)
    t = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [100.0, 100.0]]])
    assert hidden_state_mse(s, t, torch.tensor([[1, 1, 0]])).item() == pytest.approx((1 + 1 + 4 + 4) / 4)


def test_attention_mse_excludes_padding_and_groups_heads() -> None:
    mask = torch.tensor([[1, 1, 0]])
    student = torch.zeros(1, 2, 3, 3)
    teacher = torch.zeros(1, 4, 3, 3)
    teacher[:, :2] = 2.0  # heads 0,1 -> group 0 mean 2; heads 2,3 -> group 1 mean 0
    teacher[:, :, 2, :] = 1e4  # padded query row: excluded
    teacher[:, :, :, 2] = -1e4  # padded key column: excluded
    # real pairs: 2x2 per head; group 0 diff 2 -> sq 4, group 1 diff 0 -> mean (4*4 + 4*0) / 8 = 2
    assert attention_score_mse(student, teacher, mask).item() == pytest.approx(2.0)
    assert group_heads(teacher, 2).shape == (1, 2, 3, 3)
    # 3 student heads vs 4 teacher heads: both averaged to one map
    one = attention_score_mse(torch.zeros(1, 3, 3, 3), teacher, mask).item()
    assert one == pytest.approx(1.0)  # mean teacher map over real pairs is 1, squared difference 1


def test_mixed_loss() -> None:
    assert mixed_loss(torch.tensor(2.0), torch.tensor(4.0), 0.25).item() == pytest.approx(2.5)


@pytest.mark.parametrize(("student", "teacher", "expected"), [
    (2, 12, [0, 6, 12]), (4, 12, [0, 3, 6, 9, 12]), (6, 6, list(range(7))), (4, 6, [0, 2, 3, 4, 6]),
    (3, 12, [0, 4, 8, 12])])
def test_uniform_layer_maps(student: int, teacher: int, expected: list[int]) -> None:
    assert uniform_layer_map(student, teacher) == expected


def test_user_layer_map_validation() -> None:
    assert parse_layer_map("0,2,6", 2, 6) == [0, 2, 6]
    with pytest.raises(WellreadError, match="needs 3 entries"):
        parse_layer_map("0,6", 2, 6)
    with pytest.raises(WellreadError, match="non-decreasing"):
        parse_layer_map("0,7,6", 2, 6)


def test_projection_only_when_widths_differ() -> None:
    assert projection_for(384, 384) is None
    p = projection_for(128, 384)
    assert p is not None and p(torch.zeros(2, 5, 128)).shape == (2, 5, 384)


def test_soft_cross_entropy_rows_and_span_distributions_by_hand() -> None:
    student = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # P_S = (1/4, 3/4), (1/2, 1/2)
    teacher = torch.tensor([[math.log(2.0), 0.0], [0.0, 0.0]])  # P_T = (2/3, 1/3), (1/2, 1/2)
    rows = soft_cross_entropy_rows(student, teacher)
    assert rows.tolist() == pytest.approx([-(2 / 3 * math.log(1 / 4) + 1 / 3 * math.log(3 / 4)), math.log(2.0)])
    # QA: a window of 3 real positions and 1 pad; the pad's huge logits must not count on either side
    s = torch.tensor([[0.0, 0.0, math.log(2.0), 50.0]])  # real: P_S = (1/4, 1/4, 1/2)
    t = torch.tensor([[0.0, -1e9, 0.0, 99.0]])  # real: P_T = (1/2, 0, 1/2)
    mask = torch.tensor([[1, 1, 1, 0]])
    expected = -(0.5 * math.log(1 / 4) + 0.5 * math.log(1 / 2))
    assert span_soft_cross_entropy(s, t, mask).tolist() == pytest.approx([expected])
    assert span_soft_cross_entropy(s, t, mask, 2.0).item() == pytest.approx(float(
        -(torch.softmax(t[:, :3] / 2, -1) * torch.log_softmax(s[:, :3] / 2, -1)).sum() * 4))
