"""BERT's WordPiece tokenizer on the `tokenizers` library, with the files `transformers` reads.

The pipeline is BERT's (`pipeline`): BertNormalizer -> BertPreTokenizer -> WordPiece -> `[CLS] A [SEP]` /
`[CLS] A [SEP] B [SEP]` -> WordPiece decoder. Encoding, batching, truncation and windowing all run in the library,
so ids, type ids and offsets are those of `transformers.BertTokenizerFast` with the same vocabulary and options.

    tok = Tokenizer.load("path/to/model")              # tokenizer.json, else vocab.txt (+ tokenizer_config.json)
    enc = tok.encode("A question?", "Its context.", max_length=128, truncation="only_second")
    batch = tok.pad(tok.encode_batch(texts, max_length=128, truncation="longest_first"))
    tok = Tokenizer.train(["corpus.txt"], vocab_size=8000)
    tok.save("out/")                                    # vocab.txt, tokenizer.json, tokenizer_config.json, ...

Modules: `wordpiece` (the Tokenizer class: construction, vocabulary, encoding), `encoding` (Encoding, truncation,
padding), `files` (reading and writing the `transformers` files), `training` (training a vocabulary),
`pipeline` (BERT's `tokenizers` pipeline, special tokens, vocabulary checks), `job` (the options and run of
`wellread tokenizer train` and the recipe's tokenizer stage).
"""

from wellread.tokenizer.encoding import TRUNCATION_STRATEGIES, Encoding, Truncation
from wellread.tokenizer.job import TokenizerTrainOptions, train_tokenizer
from wellread.tokenizer.pipeline import DEFAULT_SPECIAL_TOKENS, DEFAULT_TRAIN_SPECIAL_TOKENS, SPECIAL_TOKEN_ROLES
from wellread.tokenizer.training import corpus_files
from wellread.tokenizer.wordpiece import Tokenizer

__all__ = ["DEFAULT_SPECIAL_TOKENS", "DEFAULT_TRAIN_SPECIAL_TOKENS", "SPECIAL_TOKEN_ROLES", "TRUNCATION_STRATEGIES",
           "Encoding", "Tokenizer", "TokenizerTrainOptions", "Truncation", "corpus_files", "train_tokenizer"]
