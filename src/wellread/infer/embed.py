"""Sentence embeddings: a text in, one vector out, from a bare encoder (a `BertModel` folder such as
all-MiniLM-L6-v2, or a sentence-transformers folder).

    {"text": "A man is playing a guitar."}   -> {"embedding": [0.013, -0.081, ...]}   (H numbers)

The backend gives the last hidden states (B, T, H) of every position (a length configuration's dropped tokens
restored: drop-and-restore); the pooling runs here, outside the model and its ONNX graph, so one exported file
serves every pooling. Mean pooling averages the states of the input's real tokens ([CLS] and [SEP] included,
padding excluded, as sentence-transformers does); "cls" takes the [CLS] state. The vector is then L2-normalised
unless normalisation is off. The defaults are the model folder's (`wellread.models.sentence`: modules.json,
1_Pooling/config.json, 2_Normalize; mean and normalised when it has none), and so is the default max length
(sentence_bert_config.json's max_seq_length, e.g. 256 for all-MiniLM-L6-v2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wellread.errors import WellreadError
from wellread.infer.pipeline import Pipeline, Record
from wellread.models.sentence import POOLINGS, SentenceConfig

NORM_EPS = 1e-12
"""The smallest norm divided by (torch.nn.functional.normalize's, which sentence-transformers uses)."""


class EmbedPipeline(Pipeline):
    task = "embed"
    fields = ("text",)

    def __init__(self, *args: Any, pooling: str | None = None, normalize: bool | None = None,
                 sentence: SentenceConfig | None = None, **kwargs: Any) -> None:
        """`sentence`: the folder's pooling and normalisation; `pooling` / `normalize` override them."""
        sentence = sentence or SentenceConfig()
        super().__init__(*args, **kwargs)
        self.pooling = pooling or sentence.pooling
        if self.pooling not in POOLINGS:
            raise WellreadError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.normalize = sentence.normalize if normalize is None else normalize

    def predict(self, records: list[Record]) -> list[Record]:
        encs = self.tok.encode_batch([r["text"] for r in records], max_length=self.max_length,
                                     truncation="longest_first")
        states = self.logits([np.asarray(e.ids) for e in encs], [np.asarray(e.type_ids) for e in encs])
        outputs: list[Record] = []
        for row, enc in zip(states, encs, strict=True):  # row: (L, H), the input's own L tokens
            out: Record = {"embedding": self.pool(row).tolist()}
            if enc.overflowing:
                out["note"] = self.truncation_note()
            outputs.append(out)
        return outputs

    def pool(self, states: np.ndarray) -> np.ndarray:
        """One input's token states (L, H) -> its sentence vector (H,), pooled and (when on) normalised."""
        vector = states.mean(0, dtype=np.float64) if self.pooling == "mean" else states[0].astype(np.float64)
        if self.normalize:
            vector = vector / max(float(np.linalg.norm(vector)), NORM_EPS)
        return vector.astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """The vectors of `texts` as one (N, H) float32 array, in order (for evaluation and search)."""
        if not texts:
            return np.zeros((0, self.config.hidden_size), dtype=np.float32)
        return np.asarray([o["embedding"] for o in self(texts)], dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"pooling": self.pooling, "normalize": self.normalize}

