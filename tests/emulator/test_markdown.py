"""WhatsApp Markdown to HTML: every format WhatsApp has, and never a tag the message wrote."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from importer.emulator import markdown


@pytest.mark.parametrize(
    ("source", "expected_html", "text"),
    [
        ("*b* _i_ ~s~", "<strong>b</strong> <em>i</em> <s>s</s>", "b i s"),
        ("2*3*4 and snake_case_name", "2*3*4 and snake_case_name", "2*3*4 and snake_case_name"),
        ("```*not bold*```", "<code>*not bold*</code>", "*not bold*"),
        ("run `make *demo*` now", "run <code>make *demo*</code> now", "run make *demo* now"),
        ("```two\nlines```", "<code>two<br>lines</code>", "two\nlines"),
        ("a & <b>\nc", "a &amp; &lt;b&gt;<br>c", "a & <b>\nc"),
        (
            "*_both_* ~*struck bold*~",
            "<strong><em>both</em></strong> <s><strong>struck bold</strong></s>",
            "both struck bold",
        ),
        ("*a _b* c_", "<strong>a _b</strong> c_", "a _b c_"),
        ("x * not bold *", "x * not bold *", "x * not bold *"),
        (
            "> valid *30* days\n> net",
            "<blockquote>valid <strong>30</strong> days<br>net</blockquote>",
            "> valid 30 days\n> net",
        ),
        (
            "need:\n- one\n* _two_\nthanks",
            "need:<ul><li>one</li><li><em>two</em></li></ul>thanks",
            "need:\n- one\n* two\nthanks",
        ),
        (
            "1. small\n2. large",
            '<ol><li value="1">small</li><li value="2">large</li></ol>',
            "1. small\n2. large",
        ),
        (
            "-not a list\n>not a quote",
            "-not a list<br>&gt;not a quote",
            "-not a list\n>not a quote",
        ),
        (
            "*<script>alert(1)</script>*",
            "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>",
            "<script>alert(1)</script>",
        ),
        ("", "", ""),
    ],
)
def test_markdown(source: str, expected_html: str, text: str) -> None:
    assert markdown.to_html(source) == expected_html
    assert markdown.to_text(source) == text


_OWN_TAGS = {"strong", "em", "s", "code", "blockquote", "ul", "ol", "li"}


class _TagChecker(HTMLParser):
    """Fails on any tag, attribute, comment or declaration to_html is not meant to write."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            assert not attrs
            return
        assert tag in _OWN_TAGS, tag
        if tag == "li" and self.open[-1:] == ["ol"]:
            assert len(attrs) == 1 and attrs[0][0] == "value" and (attrs[0][1] or "").isdigit()
        else:
            assert not attrs, (tag, attrs)
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, (self.open, tag)
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(tag)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(data)

    def handle_decl(self, decl: str) -> None:
        raise AssertionError(decl)

    def handle_pi(self, data: str) -> None:
        raise AssertionError(data)

    def unknown_decl(self, data: str) -> None:
        raise AssertionError(data)


# Text rich in markers and in what HTML gives meaning to, so that formats and attacks meet.
_TRICKY = st.text(alphabet="*_~`>-. 1a b\n<>&\"'/=!?;#x", max_size=60)


@given(st.one_of(st.text(), _TRICKY))
@example("<script>alert(1)</script>")
@example('*"><img src=x onerror=alert(1)>*')
@example("```</code><script>```")
@example("<!-- *x* -->")
def test_no_message_yields_a_tag_it_did_not_intend(source: str) -> None:
    checker = _TagChecker()
    checker.feed(markdown.to_html(source))
    checker.close()
    assert checker.open == []
    # Markup takes away only its markers and line prefixes, never what the message says.
    shown = "".join(checker.text)
    for char in set(source) - set("*_~`\n\r 0123456789.->"):
        assert shown.count(char) == source.count(char), char


@given(st.text(alphabet=st.characters(blacklist_characters="*_~`>-0123456789\r")))
def test_text_without_markers_is_only_escaped(source: str) -> None:
    assert markdown.to_html(source) == html.escape(source).replace("\n", "<br>")
