"""Train a BERT WordPiece tokenizer on plain text, or show how one encodes a text.

`train` reads FILES (files, folders or globs; .gz and .bz2 are decompressed), one text per line, and writes
vocab.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json to --out: a folder that
`wellread` and `transformers.AutoTokenizer.from_pretrained` both load. [PAD] gets id 0.
`encode` prints the tokens, ids, type ids and character offsets of a text (or a text pair) as JSON.

Examples:
  wellread tokenizer train corpus/*.txt --out tok/ --vocab-size 8000
  wellread tokenizer train corpus/ wiki.txt.gz --out tok-cased/ --cased --vocab-size 16000
  wellread tokenizer encode --tokenizer tok/ "Who wrote Emma?" "Jane Austen wrote Emma."
  wellread tokenizer encode --tokenizer tok/ "A long text ..." --max-length 16 --truncation longest_first
"""

from __future__ import annotations

import argparse
import itertools
import json

from wellread.options import add_arguments as add_options
from wellread.options import from_args
from wellread.textio import read_lines
from wellread.tokenizer import (
    TRUNCATION_STRATEGIES,
    Tokenizer,
    TokenizerTrainOptions,
    corpus_files,
    train_tokenizer,
)

TRAIN_DOC = """Train a WordPiece vocabulary on FILES (files, folders or globs; .gz/.bz2 accepted), one text per line.

Example:
  wellread tokenizer train corpus/*.txt --out tok/ --vocab-size 8000
"""
ENCODE_DOC = """Print a text's (or text pair's) tokens, ids, type ids and character offsets as one JSON object.

Example:
  wellread tokenizer encode --tokenizer tok/ "Who wrote Emma?" "Jane Austen wrote Emma."
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    raw = argparse.RawDescriptionHelpFormatter

    t = sub.add_parser("train", help="train a WordPiece vocabulary on text files", description=TRAIN_DOC,
                       formatter_class=raw)
    add_options(t, TokenizerTrainOptions)

    e = sub.add_parser("encode", help="print a text's tokens, ids and offsets as JSON", description=ENCODE_DOC,
                       formatter_class=raw)
    e.add_argument("--tokenizer", required=True, metavar="PATH",
                   help="tokenizer folder, vocab.txt or tokenizer.json")
    e.add_argument("text", help="the text (the question, for a pair)")
    e.add_argument("pair", nargs="?", default=None, help="optional second text of a pair")
    e.add_argument("--max-length", type=int, default=None, help="truncate to this many tokens (with --truncation)")
    e.add_argument("--truncation", choices=TRUNCATION_STRATEGIES, default=None,
                   help="truncation strategy (default: none, or longest_first when --max-length is given)")
    e.add_argument("--no-special-tokens", action="store_true", help="leave out [CLS] and [SEP]")


def run(args: argparse.Namespace) -> int:
    return run_train(args) if args.action == "train" else run_encode(args)


def run_train(args: argparse.Namespace) -> int:
    options = from_args(TokenizerTrainOptions, args)
    tok = train_tokenizer(options)
    print(f"vocab size {tok.vocab_size} (asked for {options.vocab_size}); lowercase={tok.lowercase}, "
          f"strip_accents={tok.strip_accents}; [PAD]={tok.pad_token_id} [UNK]={tok.unk_token_id} "
          f"[CLS]={tok.cls_token_id} [SEP]={tok.sep_token_id} [MASK]={tok.mask_token_id}")
    examples = itertools.islice((line.strip() for line in read_lines(corpus_files(options.corpus or []))
                                 if line.strip()), 3)
    for text in examples:
        text = text[:120]
        print(f"  {text!r}\n    -> {' '.join(tok.tokenize(text))}")
    print(f"saved to {options.out}")
    return 0


def run_encode(args: argparse.Namespace) -> int:
    tok = Tokenizer.load(args.tokenizer)
    truncation = args.truncation or ("longest_first" if args.max_length is not None else None)
    enc = tok.encode(args.text, args.pair, max_length=args.max_length, truncation=truncation,
                     add_special_tokens=not args.no_special_tokens)
    result = {"tokens": enc.tokens, "ids": enc.ids, "type_ids": enc.type_ids,
              "offsets": [list(o) for o in enc.offsets], "word_ids": enc.word_ids}
    if enc.overflowing:
        result["overflowing_tokens"] = [o.tokens for o in enc.overflowing]
    print(json.dumps(result, ensure_ascii=False))
    return 0
