"""Dynamic sequence length: length configurations, the LengthDrop schedule, token selection inside the encoder,
drop-and-restore, and the configuration saved with a model. Tiny random BERTs throughout."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from helpers import tiny_config
from safetensors.torch import load_file, save_file

from wellread.config import SqueezeBertConfig
from wellread.errors import ConfigError
from wellread.models import build_model, drop
from wellread.models.checkpoint import load_model, save_model
from wellread.models.drop import received_attention, significance, top_tokens
from wellread.models.fingerprint import fingerprint
from wellread.models.folder import read_model_folder
from wellread.models.length import FILE_NAME, LengthConfig, read_length_config, sample, save_length_config, smallest


def model_for(head: str, layers: int = 3) -> torch.nn.Module:
    """A random BERT of `layers` x 32 x 4 heads (101 tokens, 64 positions, no dropout) with `head`."""
    torch.manual_seed(0)
    config = tiny_config(101, layers, heads=4, intermediate=48, max_positions=64, dropout=0.0)
    return build_model(config, head).eval()


def padded_batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three rows of 20 tokens; rows 1 and 2 padded to 13 and 6 real tokens."""
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(1, 101, (3, 20), generator=g)
    mask = torch.ones(3, 20, dtype=torch.long)
    mask[1, 13:] = 0
    mask[2, 6:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[:, 8:] = 1
    return ids, mask, types


# --- configurations and the schedule --------------------------------------------------------------


def test_length_config_validates_and_counts_tokens() -> None:
    with pytest.raises(ConfigError, match="increase"):
        LengthConfig((0.5, 0.8))
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        LengthConfig((1.0, 0.0))
    with pytest.raises(ConfigError, match="none"):
        LengthConfig(())
    config = LengthConfig((1.0, 0.7, 0.3), min_tokens=4)
    lengths = config.token_lengths(torch.tensor([10, 100, 5, 2]))
    assert lengths.tolist() == [[10, 10, 7, 4], [100, 100, 70, 30], [5, 5, 4, 4], [2, 2, 2, 2]]
    assert LengthConfig.full(4).is_full() and not config.is_full()


def test_skipped_layers_keep_the_previous_share() -> None:
    config = LengthConfig.build([None, 0.8, None, 0.5])
    assert config.keep == (1.0, 0.8, 0.8, 0.5) and config.skip == (0, 2) and not config.is_full()
    assert not LengthConfig.build([1.0, None]).is_full()
    assert config.token_lengths(torch.tensor([10])).tolist() == [[10, 10, 8, 8, 5]]
    assert LengthConfig.from_dict(config.to_dict()) == config and "skip" not in LengthConfig.full(2).to_dict()
    with pytest.raises(ConfigError, match="layer 1 is skipped, so it cannot drop tokens"):
        LengthConfig((1.0, 0.5), skip=(1,))
    with pytest.raises(ConfigError, match="leaving one layer at least"):
        LengthConfig((1.0, 1.0), skip=(0, 1))
    with pytest.raises(ConfigError, match="indices below 2"):
        LengthConfig((1.0, 1.0), skip=(2,))


def test_lengthdrop_schedule_stays_within_its_bounds() -> None:
    p, layers = 0.2, 6
    g = torch.Generator().manual_seed(0)
    n = torch.arange(1, 300)
    for _ in range(200):
        config = sample(layers, p, g)
        previous = 1.0
        for keep in config.keep:  # each layer keeps between (1 - p) and all of the previous layer's share
            assert (1 - p) * previous - 1e-12 <= keep <= previous
            previous = keep
        tokens = config.token_lengths(n)  # (N, L + 1)
        assert (tokens[:, 1:] <= tokens[:, :-1]).all()  # never more than the layer before
        assert (tokens[:, 1:] >= n.clamp(max=config.min_tokens)[:, None]).all()  # the floor
        assert (tokens[:, 1:] >= torch.ceil(torch.tensor(config.keep)[None] * n[:, None] - 1e-6)).all()
        assert [config.lengths_for(int(k)) for k in n] == tokens.tolist()  # the unpadded path's plain numbers
    low = smallest(layers, p)
    assert low.keep == pytest.approx([(1 - p) ** (i + 1) for i in range(layers)])
    low = smallest(4, p, skip=(0, 2))  # skipped layers pass their share on; the others still drop p
    assert low.skip == (0, 2) and low.keep == pytest.approx([1.0, 1 - p, 1 - p, (1 - p) ** 2])
    again = sample(layers, p, torch.Generator().manual_seed(5))
    assert again == sample(layers, p, torch.Generator().manual_seed(5))
    skipped = [sample(layers, p, g, layerdrop=0.5) for _ in range(200)]  # LayerDrop: whole layers skipped
    assert all(len(c.skip) < layers for c in skipped) and any(c.skip for c in skipped)
    assert 0.4 < sum(len(c.skip) for c in skipped) / (200 * layers) < 0.6


def test_length_config_round_trips_through_the_model_folder(tmp_path) -> None:
    model = model_for("sequence-classification")
    model.length_config = LengthConfig((0.9, 0.6, 0.45), min_tokens=3)
    folder = save_model(model, tmp_path / "m")
    assert json.loads((folder / FILE_NAME).read_text())["keep"] == [0.9, 0.6, 0.45]
    loaded, _ = load_model(folder)
    assert loaded.length_config == model.length_config
    ids, mask, types = padded_batch()
    with torch.no_grad():
        assert torch.equal(loaded(ids, mask, types).logits, model(ids, mask, types).logits)
    model.length_config = None  # saving a model without one removes the stale file
    save_model(model, folder)
    assert not (folder / FILE_NAME).exists() and load_model(folder)[0].length_config is None
    save_length_config(LengthConfig((1.0, 0.5)), folder)
    with pytest.raises(ConfigError, match="2 keep fractions but the model has 3 layers"):
        load_model(folder)
    (folder / FILE_NAME).write_text("{\"keep\": \"half\"}")
    with pytest.raises(ConfigError, match="keep"):
        read_length_config(folder)



def test_a_length_config_searched_on_other_weights_is_refused(tmp_path) -> None:
    model = model_for("sequence-classification")
    folder = save_model(model, tmp_path / "m")
    save_length_config(LengthConfig((0.9, 0.6, 0.45)), folder, {"fingerprint": fingerprint(folder, False)})
    assert read_model_folder(folder).length_config == LengthConfig((0.9, 0.6, 0.45))  # searched on these weights
    weights = (folder / "model.safetensors").read_bytes()
    save_file({k: v + 1 for k, v in load_file(folder / "model.safetensors").items()},
              folder / "model.safetensors")  # other weights copied in
    with pytest.raises(ConfigError, match="searched on other weights.*stale.*wellread search"):
        load_model(folder)
    (folder / "model.safetensors").write_bytes(weights)
    assert load_model(folder)[0].length_config is not None  # the weights it was searched on again

# --- token selection --------------------------------------------------------------------------------


def attention_probs(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the real keys of (B, N, T, T) scores, as the encoder's attention computes it."""
    return (scores if mask is None else scores.masked_fill(~mask, torch.finfo(scores.dtype).min)).softmax(-1)


def test_significance_is_attention_received_from_real_queries() -> None:
    scores = torch.zeros(1, 2, 4, 4)
    scores[..., 2] = math.log(5.0)  # every query gives key 2 five times the weight of the others
    scores[:, :, 3] = 50.0  # the padded query's row would dominate if it voted
    mask = torch.tensor([[True, True, True, False]])[:, None, None, :]
    sig = significance(attention_probs(scores, mask), mask)  # 3 real queries x 2 heads; key 2 gets 5/7 of each
    assert sig[0].tolist() == pytest.approx([6 / 7, 6 / 7, 30 / 7, 0.0])
    assert significance(attention_probs(scores, None), None)[0].sum().item() == pytest.approx(8.0)  # 4 x 2


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 21])  # one query per block, and all at once
def test_received_attention_equals_the_significance_of_the_whole_matrix(monkeypatch, chunk_bytes) -> None:
    monkeypatch.setattr(drop, "CHUNK_BYTES", chunk_bytes)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 4, 20, 8, generator=g), torch.randn(3, 4, 20, 8, generator=g)
    mask = padded_batch()[1].bool()[:, None, None, :]
    for m in (mask, None):
        probs = attention_probs(q @ k.transpose(-1, -2) / math.sqrt(8), m)
        assert torch.allclose(received_attention(q, k, m), significance(probs, m), atol=1e-5)


def test_top_tokens_keeps_cls_never_padding_and_keeps_order() -> None:
    scores = torch.zeros(2, 1, 6, 6)
    scores[0, ..., 4] = 3.0  # example 0 attends to 4, then 2
    scores[0, ..., 2] = 2.0
    scores[1, ..., 5] = 9.0  # example 1's most attended key is padding
    scores[1, ..., 3] = 2.0
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]).bool()[:, None, None, :]
    sig = significance(attention_probs(scores, mask), mask)
    index, valid = top_tokens(sig, mask, torch.tensor([3, 2]))
    assert index[0].tolist() == [0, 2, 4]  # [CLS] forced, then by position
    assert index[1, :2].tolist() == [0, 3] and valid.tolist() == [[True] * 3, [True, True, False]]
    index, valid = top_tokens(sig, mask, torch.tensor([2, 2]))  # nothing to re-pad
    assert index.tolist() == [[0, 4], [0, 3]] and valid is None


# --- the encoder with a length configuration --------------------------------------------------------


@pytest.mark.parametrize("head", ["sequence-classification", "question-answering", "token-classification"])
def test_nothing_dropped_is_exactly_the_full_model(head) -> None:
    model = model_for(head)
    ids, mask, types = padded_batch()
    with torch.no_grad():
        full = model(ids, mask, types).logits
        model.length_config = LengthConfig.full(3)  # keeps all: the ordinary forward
        assert torch.equal(model(ids, mask, types).logits, full)
        model.length_config = LengthConfig((0.99, 0.99, 0.99))  # ceil(0.99 n) = n for n <= 20: nothing dropped
        assert torch.equal(model(ids, mask, types).logits, full)
        dropped = model(ids, mask, types, length_config=LengthConfig((0.8, 0.5, 0.3))).logits
    assert dropped.shape == full.shape and not torch.allclose(dropped, full)


@pytest.mark.parametrize("head", ["sequence-classification", "question-answering"])
def test_a_skipped_layer_is_not_run(head) -> None:
    model = model_for(head)
    ids, mask, types = padded_batch()
    shorter = copy.deepcopy(model)
    del shorter.bert.encoder.layer[1]  # the same weights without layer 1
    with torch.no_grad():
        skipped = model(ids, mask, types, length_config=LengthConfig((1.0, 1.0, 1.0), skip=(1,)),
                        output_hidden_states=True)
        assert torch.allclose(skipped.logits, shorter(ids, mask, types).logits, atol=1e-6)
        assert torch.equal(skipped.encoder.hidden_states[2], skipped.encoder.hidden_states[1])
        both = model(ids, mask, types, length_config=LengthConfig.build([0.5, None, 0.25], min_tokens=2)).logits
        assert torch.allclose(both, shorter(ids, mask, types, length_config=LengthConfig((0.5, 0.25), 2)).logits,
                              atol=1e-6)  # skipping and token dropping together


@pytest.mark.parametrize("head", ["question-answering", "token-classification", "masked-lm"])
def test_drop_and_restore_gives_every_position_an_output(head) -> None:
    model = model_for(head)
    ids, mask, types = padded_batch()
    config = LengthConfig((0.5, 0.5, 0.25), min_tokens=2)
    with torch.no_grad():
        out = model(ids, mask, types, length_config=config, output_hidden_states=True)
    assert out.logits.shape[:2] == ids.shape and torch.isfinite(out.logits).all()
    # the layers ran on the kept tokens only: per example ceil(keep * n) of its n real tokens
    kept = config.token_lengths(mask.sum(1))
    assert [h.shape[1] for h in out.encoder.hidden_states] == [20, *kept[:, 1:].max(0).values.tolist()]


@pytest.mark.parametrize("layer", [0, 1])
def test_dropped_tokens_keep_the_state_they_entered_the_dropping_layer_with(layer) -> None:
    model = model_for("base", layers=2)
    ids, mask, types = padded_batch()
    config = LengthConfig((1.0, 0.5) if layer else (0.5, 0.5), min_tokens=2)  # only `layer` drops (half)
    with torch.no_grad():
        out = model(ids, mask, types, length_config=config, output_hidden_states=True,
                    output_attention_scores=True)
    key_mask = mask.bool()[:, None, None, :]
    sig = significance(attention_probs(out.attention_scores[layer], key_mask), key_mask)
    index, valid = top_tokens(sig, key_mask, config.token_lengths(mask.sum(1))[:, layer + 1])
    entered = out.hidden_states[layer]  # (B, T, H): the dropping layer's input, still full length
    for b in range(3):
        kept = set(index[b][valid[b]].tolist() if valid is not None else index[b].tolist())
        for t in range(int(mask[b].sum())):
            assert torch.equal(out.last_hidden_state[b, t], entered[b, t]) == (t not in kept)


def test_tokens_kept_by_the_last_layer_get_the_full_models_output() -> None:
    """The dropping layer attends over every token and computes only the kept ones' outputs: those are exact."""
    model = model_for("base")
    ids, mask, types = padded_batch()
    config = LengthConfig((1.0, 1.0, 0.5), min_tokens=2)  # only the last layer drops
    with torch.no_grad():
        full = model(ids, mask, types).last_hidden_state  # (B, T, H)
        short = model(ids, mask, types, length_config=config, output_attention_scores=True)
    key_mask = mask.bool()[:, None, None, :]
    sig = significance(attention_probs(short.attention_scores[2], key_mask), key_mask)
    index, valid = top_tokens(sig, key_mask, config.token_lengths(mask.sum(1))[:, 3])
    for b in range(3):
        kept = index[b][valid[b]] if valid is not None else index[b]
        assert torch.allclose(short.last_hidden_state[b, kept], full[b, kept], atol=1e-5)


def test_fused_and_materialised_attention_keep_the_same_tokens() -> None:
    """Without scores to return, selection reads received_attention and attention runs fused on the kept
    queries; asking for the scores takes the materialised path: the outputs agree."""
    model = model_for("question-answering")
    ids, mask, types = padded_batch()
    config = LengthConfig((0.7, 0.5, 0.3), min_tokens=2)
    with torch.no_grad():
        fused = model(ids, mask, types, length_config=config).logits
        materialised = model(ids, mask, types, length_config=config, output_attention_scores=True).logits
    assert torch.allclose(fused, materialised, atol=1e-5)


def test_a_batch_drops_as_each_example_alone() -> None:
    """Per-example lengths and re-padding: batched outputs equal unpadded single-example runs."""
    model = model_for("question-answering")
    ids, mask, types = padded_batch()
    config = LengthConfig((0.7, 0.5, 0.3), min_tokens=2)
    with torch.no_grad():
        batched = model(ids, mask, types, length_config=config).logits
        for b in range(3):
            n = int(mask[b].sum())
            alone = model(ids[b:b + 1, :n], mask[b:b + 1, :n], types[b:b + 1, :n], length_config=config).logits
            assert torch.allclose(batched[b, :n], alone[0], atol=1e-5)


def test_the_model_config_applies_in_eval_mode_only_and_gradients_flow() -> None:
    model = model_for("sequence-classification")
    ids, mask, types = padded_batch()
    model.length_config = LengthConfig((0.6, 0.4, 0.2), min_tokens=2)
    with torch.no_grad():
        short = model(ids, mask, types).logits
        full = model(ids, mask, types, length_config=LengthConfig.full(3)).logits
    assert not torch.allclose(short, full)
    model.train()
    assert torch.allclose(model(ids, mask, types).logits, full, atol=1e-6)  # training ignores it (no dropout here)
    loss = model(ids, mask, types, length_config=LengthConfig((0.6, 0.4, 0.2), min_tokens=2)).logits.sum()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_squeezebert_says_it_has_no_dynamic_length() -> None:
    config = SqueezeBertConfig(vocab_size=101, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=48, max_position_embeddings=64, embedding_size=32)
    model = build_model(config, "sequence-classification").eval()
    ids, mask, types = padded_batch()
    with pytest.raises(ConfigError, match="BERT encoders"):
        model(ids, mask, types, length_config=LengthConfig((0.5, 0.5)))
    with pytest.raises(ConfigError, match="2 keep fractions for 3 layers"):
        model_for("base")(ids, mask, types, length_config=LengthConfig((0.5, 0.5)))


@pytest.mark.slow
@pytest.mark.parametrize("preset", [None, "64"])
def test_onednn_primitive_cache_is_widened_unless_already_set(preset) -> None:
    """Shortened layers multiply GEMM shapes at batch 1: wellread raises oneDNN's cache, leaving a user's value."""
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if preset:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = preset
    code = "import os, wellread.models; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == (preset or "16384")
