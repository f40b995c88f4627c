"""Configs and presets: HF field names, round trips, parameter counts equal to transformers' models."""

from __future__ import annotations

import json

import pytest
import torch
import transformers as hf

from wellread.cli import main
from wellread.config import ALIASES, PRESETS, SqueezeBertConfig, config_from_dict, preset
from wellread.errors import ConfigError
from wellread.models import build_model


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_parameter_count_equals_transformers(name: str) -> None:
    config = preset(name)
    hf_class = hf.SqueezeBertModel if isinstance(config, SqueezeBertConfig) else hf.BertModel
    hf_config = (hf.SqueezeBertConfig if isinstance(config, SqueezeBertConfig) else hf.BertConfig)(**{
        k: v for k, v in config.to_dict().items() if k != "model_type"})
    with torch.device("meta"):
        ours, theirs = build_model(config, "base"), hf_class(hf_config)
    assert count(ours) == count(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


def test_miniature_shapes_and_aliases() -> None:
    assert len([n for n in PRESETS if n.startswith("bert-L")]) == 24
    tiny = preset("tiny")
    shape = (tiny.num_hidden_layers, tiny.hidden_size, tiny.num_attention_heads, tiny.intermediate_size)
    assert shape == (2, 128, 2, 512)
    assert preset("google/bert_uncased_L-4_H-256_A-4") == preset("mini")
    assert set(ALIASES) == {"tiny", "mini", "small", "medium", "base"}
    assert preset("squeezebert").vocab_size == 30528
    tb = preset("tinybert-4l")
    assert (tb.num_hidden_layers, tb.hidden_size, tb.intermediate_size, tb.num_attention_heads) == (4, 312, 1200, 12)
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("huge")


def test_transformers_reads_our_config_unchanged(tmp_path) -> None:
    config = preset("mini").with_labels(["neg", "pos"])
    config.save(tmp_path)
    theirs = hf.BertConfig.from_pretrained(tmp_path)
    assert theirs.id2label == {0: "neg", 1: "pos"}
    assert theirs.num_hidden_layers == 4 and theirs.hidden_size == 256
    again = config_from_dict(json.loads((tmp_path / "config.json").read_text()))
    assert again == config


def test_squeezebert_groups_validated() -> None:
    with pytest.raises(ConfigError, match="q_groups"):
        SqueezeBertConfig(q_groups=5)


def test_models_command_lists_presets(capsys) -> None:
    assert main(["models", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["bert-L12-H768"]["parameters"] == 109_482_240
    assert by_name["bert-L2-H128"]["alias"] == "tiny"


def test_malloc_settings_apply_on_glibc_and_can_be_turned_off(monkeypatch) -> None:
    import ctypes.util
    import platform

    from wellread.malloc import tune_malloc

    monkeypatch.setenv("WELLREAD_MALLOC", "default")
    assert tune_malloc() is False
    monkeypatch.delenv("WELLREAD_MALLOC")
    on_glibc = platform.system() == "Linux" and "libc.so" in (ctypes.util.find_library("c") or "")
    assert tune_malloc() is on_glibc
