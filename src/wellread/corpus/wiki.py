"""MediaWiki XML dumps (`pages-articles.xml[.bz2]`): one document per article, streaming.

The dump is decoded line by line (so bad UTF-8 is reported with its line like everywhere else) and fed to an
`xml.etree.ElementTree.XMLPullParser`; each finished `<page>` is turned into a document and cleared, so memory
holds one page at a time. Only main-namespace (ns 0) pages that are not redirects are kept; the text is the
latest revision's wikitext with the markup stripped (`wellread.corpus.wikitext`), the title leads the text, and
the revision timestamp is the document date.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from wellread.corpus.readers import Document, ReadContext, iter_lines
from wellread.corpus.wikitext import strip_wikitext

__all__ = ["read_wiki"]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(elem: ET.Element, *path: str) -> str | None:
    for name in path:
        found = next((c for c in elem if _local(c.tag) == name), None)
        if found is None:
            return None
        elem = found
    return elem.text


def _page_document(page: ET.Element, line: int) -> Document | None:
    if (_child_text(page, "ns") or "0").strip() != "0":
        return None
    if any(_local(c.tag) == "redirect" for c in page):
        return None
    wikitext = _child_text(page, "revision", "text") or ""
    if wikitext.lstrip()[:9].upper() == "#REDIRECT":
        return None
    title = _child_text(page, "title")
    body = strip_wikitext(wikitext)
    text = f"{title}\n{body}" if title else body
    return Document(text, line, date=_child_text(page, "revision", "timestamp"), title=title)


def read_wiki(stream: BinaryIO, ctx: ReadContext) -> Iterator[Document]:
    """Articles of a MediaWiki XML dump; an XML error is reported (file, line) and ends the file, keeping the
    pages before it."""
    parser = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    page_line = 0
    try:
        for lineno, line in iter_lines(stream, ctx):
            parser.feed(line + "\n")
            for event, elem in parser.read_events():
                if event == "start":
                    if root is None:
                        root = elem
                    if _local(elem.tag) == "page":
                        page_line = lineno
                elif _local(elem.tag) == "page":
                    doc = _page_document(elem, page_line)
                    if doc is not None:
                        yield doc
                    elem.clear()
                    if root is not None:
                        root.clear()  # drop the finished page from the tree: memory stays at one page
        parser.close()
    except ET.ParseError as err:
        ctx.problem("xml_error", err.position[0], f"XML parse error: {err}")
