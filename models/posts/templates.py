"""Post templates: `{variable}` texts checked against a trigger's declared variables, and
rendered within Discord's limits.

The syntax is deliberately not `str.format`: staff write the templates, and format's
attribute access (`{member.__class__}`) and width specs (`{x:>99999999}`) must not reach
them. `{name}` is a variable, `{{` and `}}` are literal braces, anything else is text.

Limits are checked on the template rendered with sample values (each variable as
`[name]`, about as long as the `{name}` it replaces). Real values may be longer (a long
member name): rendering cuts each text at Discord's limit with "…", so Discord never
refuses a post for its length.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from models import plugins
from models.i18n import N_, Lazy, render
from models.plugins import PostTrigger

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z0-9_.]+)\}")

# Discord's limits on a message (characters).
CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FOOTER = 2048
EMBED_TOTAL = 6000  # title + description + footer (+ fields, which posts do not use)
URL = 2048
# The embed's texts that hold variables, with their limits; its URLs take variables too.
EMBED_TEXTS: dict[str, int] = {"title": TITLE, "description": DESCRIPTION, "footer": FOOTER}
EMBED_URLS = ("url", "image_url", "thumbnail_url")
ELLIPSIS = "…"


def trigger_of(key: str) -> PostTrigger | None:
    return plugins.post_triggers().get(key)


def variables_in(text: str) -> Iterator[str]:
    """The `{names}` a template uses, in order (repeats included)."""
    for match in _TOKEN.finditer(text):
        if match.group(1) is not None:
            yield match.group(1)


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `{name}` replaced by its value ("" for one not given)."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values.get(match.group(1), "")

    return _TOKEN.sub(replace, text)


def sample_values(trigger: PostTrigger, given: Mapping[str, str] | None = None) -> dict[str, str]:
    """A value for every declared variable: the given one, else its name in brackets."""
    given = given or {}
    return {name: str(given.get(name, f"[{name}]")) for name in trigger.variables}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a template: the field (e.g. "embed.title") and why."""

    field: str
    message: Lazy


def problems(trigger: PostTrigger, content: str, embed: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with a template for `trigger` (empty when it can be saved)."""
    found: list[Problem] = []
    declared = set(trigger.variables)
    texts = {"content": content} | {f"embed.{k}": embed.get(k) or "" for k in EMBED_TEXTS}
    texts |= {f"embed.{k}": embed.get(k) or "" for k in EMBED_URLS}
    for field, text in texts.items():
        unknown = next((name for name in variables_in(text) if name not in declared), None)
        if unknown is not None:
            found.append(_unknown(field, unknown, declared))
    samples = sample_values(trigger)
    if len(fill(content, samples)) > CONTENT:
        found.append(_too_long("content", CONTENT))
    total = 0
    for key, limit in EMBED_TEXTS.items():
        length = len(fill(embed.get(key) or "", samples))
        total += length
        if length > limit:
            found.append(_too_long(f"embed.{key}", limit))
    if total > EMBED_TOTAL:
        found.append(_too_long("embed", EMBED_TOTAL))
    for key in EMBED_URLS:
        url = embed.get(key) or ""
        if url and (not url.startswith(("https://", "http://")) or len(url) > URL):
            found.append(Problem(f"embed.{key}", Lazy(N_("must be an http(s) URL"))))
    if not any((content.strip(), *(str(embed.get(k) or "").strip() for k in EMBED_TEXTS))):
        message = Lazy(N_("a post needs content, or an embed with a title or description"))
        found.append(Problem("content", message))
    return found


def _unknown(field: str, name: str, declared: set[str]) -> Problem:
    message = N_("unknown variable {{{name}}}; this trigger has: {known}")
    known = ", ".join(f"{{{v}}}" for v in sorted(declared)) or "-"
    return Problem(field, Lazy(message, name=name, known=known))


def _too_long(field: str, limit: int) -> Problem:
    return Problem(field, Lazy(N_("longer than Discord allows ({limit} characters)"), limit=limit))


def rendered(
    content: str, embed: Mapping[str, Any], values: Mapping[str, Any], locale: str | None
) -> dict[str, Any]:
    """The message to send: `{"content": str, "embed": {...} | None}`, within the limits.

    Values may be lazy texts: they are rendered in `locale` (the hub's language).
    """
    strings = {name: str(render(value, locale)) for name, value in values.items()}
    out_embed: dict[str, Any] = {}
    for key, limit in EMBED_TEXTS.items():
        text = cut(fill(embed.get(key) or "", strings).strip(), limit)
        if text:
            out_embed[key] = text
    overflow = sum(len(text) for text in out_embed.values()) - EMBED_TOTAL
    if overflow > 0 and "description" in out_embed:
        description = out_embed["description"]
        out_embed["description"] = cut(description, max(len(description) - overflow, 1))
    for key in EMBED_URLS:
        url = fill(embed.get(key) or "", strings).strip()
        # A value that broke the URL would make Discord refuse the whole post: left out.
        if url.startswith(("https://", "http://")) and len(url) <= URL and " " not in url:
            out_embed[key] = url
    if out_embed and embed.get("color") is not None:
        out_embed["color"] = int(embed["color"])
    text = cut(fill(content, strings).strip(), CONTENT)
    has_text = any(out_embed.get(key) for key in EMBED_TEXTS)
    if not text and not has_text:
        text = ELLIPSIS  # every value was empty: Discord refuses an empty message
    return {"content": text, "embed": out_embed if has_text or _has_image(out_embed) else None}


def _has_image(embed: Mapping[str, Any]) -> bool:
    return bool(embed.get("image_url") or embed.get("thumbnail_url"))
