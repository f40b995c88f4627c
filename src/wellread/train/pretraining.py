"""The pretraining task for the training loop: masked-LM (WordPiece or whole-word masking) with optional
sentence-order prediction, on sequences packed by `wellread corpus pack`.

The vocabulary projection runs only at masked positions. The loop averages the loss over masked tokens;
the sentence-order loss is scaled by masked tokens per sequence so it counts as its per-sequence mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wellread.corpus.pack import PackedSequences
from wellread.models.checkpoint import save_model
from wellread.tokenizer import Tokenizer
from wellread.train.masking import mask_tokens
from wellread.train.order import length_grouped_order


@dataclass
class MaskingOptions:
    rate: float = 0.15
    whole_word: bool = False
    sentence_order: bool = False


class PretrainingTask:
    """Collates packed (A, B) pairs into `[CLS] A [SEP] B [SEP]`, masks them, and scores the MLM/SOP heads."""

    def __init__(self, train: PackedSequences, val: PackedSequences | None, tokenizer: Tokenizer,
                 options: MaskingOptions, eval_sequences: int = 2000, eval_batch_size: int = 64,
                 group_by_length: int = 0) -> None:
        """group_by_length: the loop's batch size to group similar lengths into batches (0: plain shuffle)."""
        self.train, self.val, self.tok, self.opt = train, val, tokenizer, options
        self.group_by_length = group_by_length
        self.eval_sequences, self.eval_batch_size = eval_sequences, eval_batch_size
        vocab = tokenizer.vocab
        self.word_start = np.ones(tokenizer.vocab_size, dtype=bool)
        for token, i in vocab.items():
            if token.startswith("##"):
                self.word_start[i] = False

    def num_examples(self) -> int:
        return len(self.train)

    def order(self, epoch: int, generator: torch.Generator) -> list[int]:
        if not self.group_by_length:
            return torch.randperm(len(self.train), generator=generator).tolist()
        return length_grouped_order(np.diff(self.train.offsets), self.group_by_length, generator)

    def build(self, data: PackedSequences, indices: list[int], g: torch.Generator) -> dict[str, Tensor]:
        """Inputs padded to the longest sequence of the batch, masked, with sentence-order labels."""
        cls, sep, pad = self.tok.cls_token_id, self.tok.sep_token_id, self.tok.pad_token_id
        swaps = (torch.rand(len(indices), generator=g) < 0.5).tolist() if self.opt.sentence_order else None
        rows, types = [], []
        for j, i in enumerate(indices):
            a, b = data.pair(i)
            if swaps and swaps[j]:
                a, b = b, a
            rows.append(np.concatenate([[cls], a, [sep], b, [sep]]))
            types.append(np.concatenate([np.zeros(len(a) + 2, np.int64), np.ones(len(b) + 1, np.int64)]))
        T = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), T), pad, dtype=torch.long)
        token_type_ids = torch.zeros((len(rows), T), dtype=torch.long)
        for j, (r, t) in enumerate(zip(rows, types, strict=True)):
            input_ids[j, :len(r)] = torch.from_numpy(r)
            token_type_ids[j, :len(t)] = torch.from_numpy(t)
        attention_mask = (torch.arange(T)[None] < torch.tensor([len(r) for r in rows])[:, None]).long()
        maskable = attention_mask.bool() & (input_ids != cls) & (input_ids != sep)
        word_start = torch.from_numpy(self.word_start[input_ids.numpy()]) if self.opt.whole_word else None
        m = mask_tokens(input_ids, maskable, mask_id=self.tok.mask_token_id, vocab_size=self.tok.vocab_size,
                        rate=self.opt.rate, g=g, word_start=word_start)
        batch = {"input_ids": m.input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids,
                 "masked_positions": m.positions, "mlm_labels": m.labels}
        if swaps is not None:
            batch["sop_labels"] = torch.tensor(swaps, dtype=torch.long)
        return batch

    def collate(self, indices: list[int], seed: int) -> dict[str, Tensor]:
        return self.build(self.train, indices, torch.Generator().manual_seed(seed))

    def weight(self, batch: dict[str, Tensor]) -> float:
        return float(batch["mlm_labels"].numel())

    def loss(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                    masked_positions=batch["masked_positions"])
        logits = out.logits.float()  # (M, V)
        loss = F.cross_entropy(logits, batch["mlm_labels"], reduction="sum")
        stats = {"mlm_correct": float((logits.argmax(-1) == batch["mlm_labels"]).sum()),
                 "mlm_count": float(batch["mlm_labels"].numel()),
                 "tokens": float(batch["attention_mask"].sum())}
        if "sop_labels" in batch:
            sop = out.sentence_logits.float()
            per_sequence = batch["mlm_labels"].numel() / len(batch["sop_labels"])
            loss = loss + F.cross_entropy(sop, batch["sop_labels"], reduction="sum") * per_sequence
            stats["sop_correct"] = float((sop.argmax(-1) == batch["sop_labels"]).sum())
            stats["sop_count"] = float(len(batch["sop_labels"]))
        return loss, stats

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Validation MLM loss, perplexity and accuracy (and SOP accuracy) with fixed masking."""
        if self.val is None or len(self.val) == 0:
            return {}
        n = min(len(self.val), self.eval_sequences)
        g = torch.Generator().manual_seed(12345)  # the same masks at every evaluation
        loss_sum = correct = count = sop_correct = 0.0
        for start in range(0, n, self.eval_batch_size):
            batch = self.build(self.val, list(range(start, min(n, start + self.eval_batch_size))), g)
            out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                        masked_positions=batch["masked_positions"])
            logits = out.logits.float()
            loss_sum += float(F.cross_entropy(logits, batch["mlm_labels"], reduction="sum"))
            correct += float((logits.argmax(-1) == batch["mlm_labels"]).sum())
            count += batch["mlm_labels"].numel()
            if "sop_labels" in batch:
                sop_correct += float((out.sentence_logits.argmax(-1) == batch["sop_labels"]).sum())
        result = {"val_mlm_loss": loss_sum / count, "val_perplexity": math.exp(min(loss_sum / count, 50)),
                  "val_mlm_acc": correct / count}
        if self.opt.sentence_order:
            result["val_sop_acc"] = sop_correct / n
        return result

    def save(self, model: nn.Module, folder: Path) -> None:
        save_model(model, folder, self.tok)
