"""Wikitext -> plain text, good enough for pretraining: a regex pass, not a MediaWiki parser.

Removed: comments, <ref>s, templates `{{...}}` and tables `{|...|}` (nested ones too), files, images and
categories, <math>/<gallery>/<code>-like blocks, magic words, HTML tags (their text kept), bold/italic quotes,
list and indent markers. Kept: link labels (`[[a|b]]` -> `b`, `[[a]]` -> `a`, `[http://x label]` -> `label`),
heading text (`== History ==` -> `History`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

__all__ = ["strip_wikitext"]

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_DROP_BLOCKS = re.compile(r"<(math|gallery|timeline|score|syntaxhighlight|source|pre|code|imagemap|chem)\b[^>]*>"
                          r".*?</\1>", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|(?:(?!\{\||\|\}).)*\|\}", re.S)
_INNER_LINK = re.compile(r"\[\[([^\[\]]*)\]\]")
_DROP_NAMESPACES = ("file:", "image:", "category:", "media:")
_EXT_LINK = re.compile(r"\[(?:https?:)?//[^\s\]]+(?:\s+([^\]]*))?\]")
_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$", re.M)
_QUOTES = re.compile(r"'{2,}")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_MAGIC = re.compile(r"__[A-Z]+__")
_LIST_MARK = re.compile(r"^[*#:;]+\s*", re.M)
_TABLE_LINE = re.compile(r"^\s*[|!].*$", re.M)


def _repeat(pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str], text: str) -> str:
    """Apply `pattern` until nothing changes (innermost-first removal of nested constructs)."""
    while True:
        text, n = pattern.subn(repl, text)
        if not n:
            return text


def _link(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.strip().lower().startswith(_DROP_NAMESPACES):
        return ""
    if label:
        return label.rsplit("|", 1)[-1]
    return target.split("#", 1)[0] if not target.startswith("#") else target[1:]


def strip_wikitext(text: str) -> str:
    """Plain text of one page's wikitext (see the module docstring for what is kept)."""
    text = _COMMENT.sub("", text)
    text = _REF.sub("", text)
    text = _DROP_BLOCKS.sub("", text)
    text = _repeat(_TEMPLATE, "", text)
    text = _repeat(_TABLE, "", text)
    text = _repeat(_INNER_LINK, _link, text)
    text = _EXT_LINK.sub(lambda m: m.group(1) or "", text)
    text = _HEADING.sub(r"\2", text)
    text = _QUOTES.sub("", text)
    text = _TAG.sub("", text)
    text = _MAGIC.sub("", text)
    text = _TABLE_LINE.sub("", text)
    text = _LIST_MARK.sub("", text)
    return html.unescape(text)
