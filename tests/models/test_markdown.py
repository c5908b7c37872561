"""Staff markdown as website HTML (inert against script injection) and as Discord pieces."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from models.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, split, to_html

# Classic attacks on markdown-to-HTML pipelines (OWASP's filter evasion list, adapted to
# markdown's link and image syntax).
ATTACKS = [
    "<script>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    "<details open ontoggle=alert(1)>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '![x](https://ok.example/a.png "title" onerror="alert(1)")',
    "<javascript:alert(1)>",
    '[x](https://ok.example/" onmouseover="alert(1))',
    "`<script>alert(1)</script>`",
    "```\n<script>alert(1)</script>\n```",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<!-- <script>alert(1)</script> -->",
    "[x](file:///etc/passwd)",
    "[x](/relative/path)",
    "<form action=javascript:alert(1)><button>go</button></form>",
    '<object data="javascript:alert(1)"></object>',
    "<base href=javascript:alert(1)//>",
]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collect()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_come_out_inert(attack: str) -> None:
    html = to_html(f"Hello\n\n{attack}\n\nbye")
    for tag, attrs in _elements(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) or name == "rel", (name, html)
            if name == "href":
                assert (value or "").lower().startswith(("http://", "https://", "mailto:")), html
    assert "<script" not in html.lower()
    assert "Hello" in html
    assert "bye" in html


def test_markdown_becomes_the_expected_html() -> None:
    html = to_html(
        "# Convoy\n\n**Bring** a _Scania_ ~~or not~~.\n\n- one\n- two\n\n"
        "[Route](https://truckersmp.com/events/1)"
    )
    assert "<h1>Convoy</h1>" in html
    assert "<strong>Bring</strong> a <em>Scania</em> <s>or not</s>." in html
    assert "<li>one</li>" in html
    assert '<a href="https://truckersmp.com/events/1" rel="noopener noreferrer nofollow">' in html


def test_split_keeps_paragraphs_then_lines_then_words() -> None:
    text = "A" * 30 + "\n\n" + "B" * 25 + "\nshort line\n\n" + "word " * 20
    pieces = split(text, 40)
    assert all(len(p) <= 40 for p in pieces)
    assert pieces[0] == "A" * 30
    assert pieces[1] == "B" * 25 + "\nshort line"
    assert " ".join(p for p in pieces[2:]) == ("word " * 20).strip()
    assert split("x" * 95, 40) == ["x" * 40, "x" * 40, "x" * 15]
    assert split("  ", 10) == []
    with pytest.raises(ValueError, match="positive"):
        split("x", 0)
