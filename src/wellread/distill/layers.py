"""Which teacher layer each student layer learns from, and the projection between widths."""

from __future__ import annotations

from torch import Tensor, nn

from wellread.errors import WellreadError


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """TinyBERT's g(m) = m * N / M for m = 0..M: index 0 is the embedding output, m the m-th layer's output.

    Returns M + 1 teacher indices (into hidden_states, which hold N + 1 entries).
    """
    if teacher_layers % student_layers:
        # not a multiple: round to the nearest teacher layer, keeping the ends fixed
        return [round(m * teacher_layers / student_layers) for m in range(student_layers + 1)]
    step = teacher_layers // student_layers
    return [m * step for m in range(student_layers + 1)]


def parse_layer_map(spec: str, student_layers: int, teacher_layers: int) -> list[int]:
    """A user-given map "0,3,6" (student layer m -> teacher layer), validated."""
    try:
        layers = [int(x) for x in spec.split(",")]
    except ValueError:
        raise WellreadError(f"layer map {spec!r}: expected comma-separated integers") from None
    if len(layers) != student_layers + 1:
        raise WellreadError(f"layer map {spec!r}: needs {student_layers + 1} entries (embeddings + "
                            f"{student_layers} student layers), got {len(layers)}")
    if any(not 0 <= t <= teacher_layers for t in layers) or layers != sorted(layers):
        raise WellreadError(f"layer map {spec!r}: entries must be non-decreasing in 0..{teacher_layers}")
    return layers


class WidthProjection(nn.Module):
    """One learned linear map from student to teacher width (TinyBERT's W_h), shared by all layers."""

    def __init__(self, student_width: int, teacher_width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(student_width, teacher_width)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)  # (B, T, H_s) -> (B, T, H_t)


def projection_for(student_width: int, teacher_width: int) -> WidthProjection | None:
    """A projection only when the widths differ (none to train or save otherwise)."""
    return None if student_width == teacher_width else WidthProjection(student_width, teacher_width)
