"""Nothing in wellread loads a file in a way that can run code (docs/security.md, "What wellread loads and how")."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "wellread"
UNSAFE = re.compile(r"weights_only\s*=\s*False|allow_pickle\s*=\s*True|pickle\.loads?\(|yaml\.(unsafe_)?load\(|"
                    r"yaml\.full_load|marshal\.loads?\(|dill\.|cloudpickle|joblib\.load|torch\.load\((?![^)]*weights_only=True)")


def test_no_loader_that_can_run_code() -> None:
    found = [f"{path.relative_to(SOURCE)}:{n}: {line.strip()}" for path in sorted(SOURCE.rglob("*.py"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if UNSAFE.search(line)]
    assert found == []


def test_the_pattern_finds_what_it_looks_for() -> None:
    for line in ('state = torch.load(path, weights_only=False)', 'np.load(f, allow_pickle=True)', 'pickle.load(f)',
                 'yaml.load(text)', 'torch.load(path)'):
        assert UNSAFE.search(line), line
    assert not UNSAFE.search('torch.load(path, map_location="cpu", weights_only=True)')
