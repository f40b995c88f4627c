"""Distillation losses (Hinton et al. 2015; TinyBERT, Jiao et al. 2020). Each returns a scalar mean.

Shapes: B batch, T tokens, C classes, N heads, H hidden size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def soft_cross_entropy_rows(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """-sum_c P_T(c) log P_S(c) at temperature t, times t^2 so gradients keep their size, per example.

    logits: (..., C) -> (...,); every leading position is one example.
    """
    t = temperature
    teacher = F.softmax(teacher_logits.float() / t, dim=-1)
    log_student = F.log_softmax(student_logits.float() / t, dim=-1)
    return -(teacher * log_student).sum(-1) * t * t


def soft_cross_entropy(student_logits: Tensor, teacher_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """`soft_cross_entropy_rows` averaged over examples (not over classes: TinyBERT's code also averaged over
    classes, which scales the loss by 1/C)."""
    return soft_cross_entropy_rows(student_logits, teacher_logits, temperature).mean()


def span_soft_cross_entropy(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor,
                            temperature: float = 1.0) -> Tensor:
    """QA start (or end) distillation: soft cross-entropy between distributions over the real positions of
    each window, padding excluded from both softmaxes. logits (B, T), mask (B, T) -> (B,) per window."""
    keep = mask.bool()
    t = temperature
    teacher = F.softmax(teacher_logits.float().masked_fill(~keep, float("-inf")) / t, dim=-1)  # (B, T)
    log_student = F.log_softmax(student_logits.float().masked_fill(~keep, float("-inf")) / t, dim=-1)  # (B, T)
    return -torch.where(keep, teacher * log_student, 0.0).sum(-1) * t * t


def masked_soft_cross_entropy(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor,
                              temperature: float = 1.0) -> Tensor:
    """Per-token soft cross-entropy (NER, QA start/end over positions) over the True entries of mask (B, T)."""
    return soft_cross_entropy(student_logits[mask], teacher_logits[mask], temperature)


def regression_distillation(student: Tensor, teacher: Tensor) -> Tensor:
    """MSE between student and teacher predictions (regression tasks)."""
    return F.mse_loss(student.float(), teacher.float())


def hidden_state_mse(student: Tensor, teacher: Tensor, mask: Tensor | None = None) -> Tensor:
    """MSE over the hidden units of real tokens: student (B, T, H_t) (already projected), teacher (B, T, H_t)."""
    if mask is None:
        return F.mse_loss(student.float(), teacher.float())
    keep = mask.bool()
    return F.mse_loss(student[keep].float(), teacher[keep].float())


def group_heads(scores: Tensor, heads: int) -> Tensor:
    """(B, N, T, T) -> (B, heads, T, T) by averaging consecutive groups of N/heads heads."""
    B, N, T, _ = scores.shape
    if heads == N:
        return scores
    if N % heads:
        raise ValueError(f"cannot group {N} attention heads into {heads}")
    return scores.view(B, heads, N // heads, T, T).mean(2)


def attention_score_mse(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    """MSE of pre-softmax attention scores over real (query, key) pairs; padding excluded.

    student (B, N_s, T, T), teacher (B, N_t, T, T), mask (B, T). When head counts differ, the teacher's heads
    are averaged in groups down to the student's count when N_t is a multiple of N_s (BERT-Tiny's 2 heads
    vs a 12-head teacher: each student head learns the mean map of 6 teacher heads), else both sides are
    averaged to one map. Averaging scores keeps a head's relative preferences, which is what the softmax sees.
    """
    n_s, n_t = student.shape[1], teacher.shape[1]
    target_heads = n_s if n_t % n_s == 0 else 1
    s, t = group_heads(student.float(), target_heads), group_heads(teacher.float(), target_heads)
    pair = (mask[:, :, None].bool() & mask[:, None, :].bool())[:, None].expand_as(s)  # (B, heads, T, T)
    return F.mse_loss(s[pair], t[pair])


def mixed_loss(gold: Tensor, distill: Tensor, alpha: float) -> Tensor:
    """alpha * distillation + (1 - alpha) * gold."""
    return alpha * distill + (1.0 - alpha) * gold


__all__ = ["soft_cross_entropy", "soft_cross_entropy_rows", "span_soft_cross_entropy", "masked_soft_cross_entropy",
           "regression_distillation", "hidden_state_mse", "group_heads", "attention_score_mse", "mixed_loss"]
