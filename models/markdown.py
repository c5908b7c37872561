"""Markdown written by staff (announcements, descriptions), shown in two places.

- On the website as HTML: rendered by markdown-it (CommonMark, raw HTML off, so `<script>`
  in a body is text), then cleaned by nh3 (ammonia) with a short allow-list of tags and
  attributes and only http(s)/mailto links. Two layers: a renderer bug alone cannot let a
  script or an event handler through.
- In Discord as Discord markdown: the same text (Discord reads the same syntax), cut into
  pieces that fit Discord's limits at paragraph, then line, then word boundaries.
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote"),
        *("ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("table", "thead", "tbody", "tr", "th", "td"),
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
LINK_SCHEMES = frozenset({"http", "https", "mailto"})


@cache
def _renderer() -> MarkdownIt:
    # "commonmark" with raw HTML off; strikethrough and tables as Discord and most editors
    # know them. markdown-it already refuses javascript:/vbscript:/data: link targets.
    return MarkdownIt("commonmark", {"html": False}).enable(["strikethrough", "table"])


def to_html(text: str) -> str:
    """The markdown as HTML safe to put in a page (no script, style, handler, relative link
    or foreign link scheme survives; links get rel="noopener noreferrer nofollow")."""
    rendered = _renderer().render(text)
    return nh3.clean(
        rendered,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(LINK_SCHEMES),
        url_relative="deny",  # the same text goes to Discord, where a relative link is nothing
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def split(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at the last paragraph break,
    else line break, else space before the limit (a word longer than the limit is cut)."""
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = next(
            (at for sep in ("\n\n", "\n", " ") if (at := window.rfind(sep)) > 0),
            limit,
        )
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
