"""Parity with transformers: the same weights give the same outputs, in both directions, for every head."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import transformers as hf

from wellread.config import config_from_dict
from wellread.models import build_model
from wellread.models.checkpoint import load_model, save_model

BERT = {
    "base": hf.BertModel,
    "masked-lm": hf.BertForMaskedLM,
    "pretraining": hf.BertForPreTraining,
    "next-sentence": hf.BertForNextSentencePrediction,
    "sequence-classification": hf.BertForSequenceClassification,
    "token-classification": hf.BertForTokenClassification,
    "question-answering": hf.BertForQuestionAnswering,
}
SQUEEZEBERT = {
    "base": hf.SqueezeBertModel,
    "masked-lm": hf.SqueezeBertForMaskedLM,
    "sequence-classification": hf.SqueezeBertForSequenceClassification,
    "token-classification": hf.SqueezeBertForTokenClassification,
    "question-answering": hf.SqueezeBertForQuestionAnswering,
}
CASES = [("bert", h, c) for h, c in BERT.items()] + [("squeezebert", h, c) for h, c in SQUEEZEBERT.items()]


def hf_config(family: str, head: str, regression: bool = False):
    labels = 2 if head == "question-answering" else 3
    common = dict(vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
                  max_position_embeddings=40, num_labels=1 if regression else labels)
    if regression:
        common["problem_type"] = "regression"
    if family == "bert":
        return hf.BertConfig(**common)
    return hf.SqueezeBertConfig(embedding_size=32, q_groups=2, k_groups=2, v_groups=2, intermediate_groups=4,
                                output_groups=4, **common)


def batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three rows of 9 tokens with padding in two of them and a second segment."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 101, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    return ids, mask, types


def hf_outputs(model, ids, mask, types) -> list[torch.Tensor]:
    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
    if hasattr(out, "pooler_output"):
        return [out.last_hidden_state, out.pooler_output, *out.hidden_states]
    if hasattr(out, "prediction_logits"):
        return [out.prediction_logits, out.seq_relationship_logits, *out.hidden_states]
    if hasattr(out, "start_logits"):
        return [torch.stack([out.start_logits, out.end_logits], -1), *out.hidden_states]
    return [out.logits, *out.hidden_states]


def our_outputs(model, ids, mask, types) -> list[torch.Tensor]:
    out = model(ids, mask, types, output_hidden_states=True)
    if hasattr(out, "last_hidden_state"):  # bare encoder
        return [out.last_hidden_state, out.pooler_output, *out.hidden_states]
    extra = [out.sentence_logits] if out.sentence_logits is not None else []
    return [out.logits, *extra, *out.encoder.hidden_states]


def assert_close(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize(("family", "head", "hf_class"), CASES, ids=[f"{f}-{h}" for f, h, _ in CASES])
def test_hf_weights_load_strictly_and_agree(family: str, head: str, hf_class) -> None:
    torch.manual_seed(0)
    theirs = hf_class(hf_config(family, head)).eval()
    ours = build_model(config_from_dict(theirs.config.to_dict()), head).eval()
    assert set(ours.state_dict()) == set(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad():
        assert_close(our_outputs(ours, *batch()), hf_outputs(theirs, *batch()))


@pytest.mark.parametrize(("family", "head", "hf_class"), CASES, ids=[f"{f}-{h}" for f, h, _ in CASES])
def test_saved_folders_round_trip_both_ways(tmp_path, family: str, head: str, hf_class) -> None:
    torch.manual_seed(0)
    theirs = hf_class(hf_config(family, head)).eval()
    theirs.save_pretrained(tmp_path / "hf")
    ours, report = load_model(tmp_path / "hf", head)
    assert not (report.initialized or report.unused or report.reinitialized)
    with torch.no_grad():
        assert_close(our_outputs(ours, *batch()), hf_outputs(theirs, *batch()))

    save_model(ours, tmp_path / "ours")
    back = hf_class.from_pretrained(tmp_path / "ours").eval()
    for key, value in theirs.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key  # bit for bit
    with torch.no_grad():
        assert_close(hf_outputs(back, *batch()), hf_outputs(theirs, *batch()))


@pytest.mark.parametrize("family", ["bert", "squeezebert"])
def test_regression_head(family: str) -> None:
    cls = BERT["sequence-classification"] if family == "bert" else SQUEEZEBERT["sequence-classification"]
    theirs = cls(hf_config(family, "sequence-classification", regression=True)).eval()
    ours = build_model(config_from_dict(theirs.config.to_dict()), "sequence-classification").eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad():
        assert our_outputs(ours, *batch())[0].shape == (3, 1)
        assert_close(our_outputs(ours, *batch()), hf_outputs(theirs, *batch()))


@pytest.mark.parametrize("family", ["bert", "squeezebert"])
def test_attention_scores_are_pre_softmax(family: str) -> None:
    theirs = (BERT if family == "bert" else SQUEEZEBERT)["base"](hf_config(family, "base")).eval()
    theirs.config._attn_implementation = "eager"
    ours = build_model(config_from_dict(theirs.config.to_dict()), "base").eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ids, mask, types = batch()
    with torch.no_grad():
        out = ours(ids, mask, types, output_attention_scores=True)
        fused = ours(ids, mask, types)
        probs = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types, output_attentions=True).attentions
    assert (out.last_hidden_state - fused.last_hidden_state).abs().max() <= 1e-5  # manual path == fused path
    keep = mask.bool()[:, None, None, :]
    for scores, p in zip(out.attention_scores, probs, strict=True):
        assert scores.shape == (3, 4, 9, 9)
        ours_p = scores.masked_fill(~keep, float("-inf")).softmax(-1)
        if family == "squeezebert":  # HF returns SqueezeBERT's masked scores, not probabilities
            p = p.softmax(-1)
        assert (ours_p - p).abs().max() <= 1e-5


def test_training_mode_dropout_differs_and_eval_is_deterministic() -> None:
    model = build_model(config_from_dict(hf_config("bert", "base").to_dict()), "base")
    ids, mask, types = batch()
    model.train()
    a, b = model(ids, mask, types).last_hidden_state, model(ids, mask, types).last_hidden_state
    assert not torch.equal(a, b)
    model.eval()
    assert torch.equal(model(ids, mask, types).last_hidden_state, model(ids, mask, types).last_hidden_state)


def test_fused_inference_projection_tracks_weight_updates() -> None:
    model = build_model(config_from_dict(hf_config("bert", "base").to_dict()), "base").eval()
    ids, mask, types = batch()
    with_grad = model(ids, mask, types).last_hidden_state.detach()
    with torch.no_grad():
        fused = model(ids, mask, types).last_hidden_state
    assert (fused - with_grad).abs().max() <= 1e-6
    with torch.no_grad():  # an in-place update (what an optimizer step does) must invalidate the fused weights
        model.encoder.layer[0].attention.self.key.weight.add_(torch.randn(32, 32))
        after = model(ids, mask, types).last_hidden_state
    assert (after - fused).abs().max() > 1e-3
    assert (after - model(ids, mask, types).last_hidden_state.detach()).abs().max() <= 1e-6


def test_packed_inference_weights_track_updates_and_are_not_copied() -> None:
    model = build_model(config_from_dict(hf_config("bert", "base").to_dict()), "base").eval()
    ids, mask, types = batch()
    with_grad = model(ids, mask, types).last_hidden_state.detach()
    with torch.no_grad():
        packed = model(ids, mask, types).last_hidden_state  # builds the packed weights
        assert torch.equal(copy.deepcopy(model)(ids, mask, types).last_hidden_state, packed)
        assert torch.equal(pickle.loads(pickle.dumps(model))(ids, mask, types).last_hidden_state, packed)
        model.encoder.layer[1].intermediate.dense.weight.add_(torch.randn(48, 32))  # an optimizer-like update
        after = model(ids, mask, types).last_hidden_state
    assert (packed - with_grad).abs().max() <= 1e-6 and (after - packed).abs().max() > 1e-3
    assert (after - model(ids, mask, types).last_hidden_state.detach()).abs().max() <= 1e-6
