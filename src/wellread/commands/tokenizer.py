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

from wellread.errors import TokenizerError
from wellread.textio import read_lines
from wellread.tokenizer import DEFAULT_TRAIN_SPECIAL_TOKENS, TRUNCATION_STRATEGIES, Tokenizer, corpus_files

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
    t.add_argument("files", nargs="+", metavar="FILES", help="text files, folders or globs (.gz/.bz2 accepted)")
    t.add_argument("--out", required=True, metavar="DIR", help="folder to write the tokenizer files into")
    t.add_argument("--vocab-size", type=int, default=30522,
                   help="vocabulary size, special tokens and alphabet included (default: %(default)s)")
    t.add_argument("--min-frequency", type=int, default=2,
                   help="least count of a pair for it to be merged (default: %(default)s)")
    t.add_argument("--cased", action="store_true", help="keep case (default: lowercase, as bert-base-uncased)")
    accents = t.add_mutually_exclusive_group()
    accents.add_argument("--strip-accents", dest="strip_accents", action="store_true", default=None,
                         help="strip accents (default: strip exactly when lowercasing, as BERT does)")
    accents.add_argument("--keep-accents", dest="strip_accents", action="store_false", help="keep accents")
    t.add_argument("--special-tokens", default=",".join(DEFAULT_TRAIN_SPECIAL_TOKENS), metavar="TOKENS",
                   help="comma-separated special tokens, given the first ids; [PAD] is always id 0 and the five "
                        "BERT tokens are always included (default: %(default)s)")
    t.add_argument("--limit-alphabet", type=int, default=1000,
                   help="most distinct characters kept in the alphabet (default: %(default)s)")
    t.add_argument("--model-max-length", type=int, default=512,
                   help="longest input the model takes, saved for truncation (default: %(default)s)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

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
    specials = [s.strip() for s in args.special_tokens.split(",") if s.strip()]
    if args.vocab_size < 1 or args.min_frequency < 0 or args.limit_alphabet < 1 or args.model_max_length < 1:
        raise TokenizerError("--vocab-size, --limit-alphabet and --model-max-length must be positive, "
                             "--min-frequency at least 0")
    files = corpus_files(args.files)
    print(f"training on {len(files)} file(s): {', '.join(str(f) for f in files[:5])}{' ...' if len(files) > 5 else ''}")
    tok = Tokenizer.train(files, vocab_size=args.vocab_size, min_frequency=args.min_frequency,
                          special_tokens=specials, lowercase=not args.cased, strip_accents=args.strip_accents,
                          limit_alphabet=args.limit_alphabet, show_progress=not args.quiet)
    tok.model_max_length = args.model_max_length
    out = tok.save(args.out)
    print(f"vocab size {tok.vocab_size} (asked for {args.vocab_size}); lowercase={tok.lowercase}, "
          f"strip_accents={tok.strip_accents}; [PAD]={tok.pad_token_id} [UNK]={tok.unk_token_id} "
          f"[CLS]={tok.cls_token_id} [SEP]={tok.sep_token_id} [MASK]={tok.mask_token_id}")
    examples = itertools.islice((line.strip() for line in read_lines(files) if line.strip()), 3)
    for text in examples:
        text = text[:120]
        print(f"  {text!r}\n    -> {' '.join(tok.tokenize(text))}")
    print(f"saved to {out}")
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
