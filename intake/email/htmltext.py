"""HTML → readable plain text for bodies that have no text/plain alternative (stdlib only)."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser

logger = logging.getLogger(__name__)


class _HTMLText(HTMLParser):
    """HTML → readable plain text: paragraphs and line breaks kept, scripts/styles dropped."""

    _SKIP = {"script", "style", "head", "title", "noscript", "template", "xml", "svg"}
    _BLOCK = {
        "p", "div", "table", "tr", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "pre", "hr", "section", "article", "header", "footer",
        "address", "center", "form", "fieldset", "figure", "main", "nav", "aside",
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._skip = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag == "br":
            self._out.append("\n")
        elif tag == "li":
            self._out.append("\n- ")
        elif tag in ("td", "th"):
            self._out.append(" ")
        elif tag in self._BLOCK:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            return  # <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self._out.append("\n\n")
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._out.append(data if self._pre else re.sub(r"[ \t\r\n\f\v]+", " ", data))

    def text(self) -> str:
        text = "".join(self._out).replace("\xa0", " ")
        lines = [line.strip() for line in text.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (stdlib only; never raises)."""
    converter = _HTMLText()
    try:
        converter.feed(html)
        converter.close()
    except Exception:  # malformed markup: keep what was converted
        logger.debug("HTML conversion stopped early", exc_info=True)
    return converter.text()
