"""What makes a build from nothing faster must not change what it makes: the parse children
get runs of equal work (and every result back in order), the one HTML pass gives the text
the separate one gave, and the shared emoji index is the extension's own."""

from __future__ import annotations

from html.parser import HTMLParser

import markdown
import pytest
from pymdownx.emoji import emojione, to_alt

from kg.bounded import Failed, _runs, map_bounded
from kg.render import _emoji_index, heading_engine, markdown_engine, render


def _double_or_fail(value: int) -> int:
    if value == 3:
        raise ValueError("three")
    return value * 2


def test_weighted_runs_split_the_work_not_the_count() -> None:
    weights = [100, 1, 1, 1, 1, 1, 1, 1]
    assert _runs(len(weights), 2, weights) == [(0, 1), (1, 8)]
    assert _runs(5, 2, [1, 1, 1, 1, 1]) == [(0, 3), (3, 5)]
    assert _runs(4, 2, None) == [(0, 2), (2, 4)]
    assert _runs(4, 2, [0, 0, 0, 0]) == [(0, 2), (2, 4)]  # no weight: by count
    assert _runs(0, 2, []) == []
    for count in range(1, 12):  # every item in exactly one run, in order, at most 3 runs
        runs = _runs(count, 3, [count - index for index in range(count)])
        assert len(runs) <= 3
        assert [index for start, end in runs for index in range(start, end)] == list(range(count))


def test_map_bounded_with_weights_keeps_order_and_failures() -> None:
    items = list(range(9))
    expected = [Failed("ValueError: three") if item == 3 else item * 2 for item in items]
    weights = [50, 1, 1, 1, 1, 1, 1, 1, 40]
    assert map_bounded(_double_or_fail, items, 5, 2, weights) == expected


class _Text(HTMLParser):
    """An independent reading of an HTML fragment's text (script and style left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style", "template")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.hidden = max(0, self.hidden - (tag in ("script", "style", "template")))
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


@pytest.mark.parametrize(
    ("markdown_text", "headings"),
    [
        (
            "# Titel\n\nTekst met **nadruk** en een [link](https://example.org/?a=1&amp;b=2)."
            "\n\n## Eerste *kop*\n\n<script>niet()</script>\n\n- een\n- twee &eacute;\n",
            ["Eerste kop"],
        ),
        ("Een alinea met een AI-systeem en :smile:.\n\n## Kop\n\n<!-- commentaar -->\n", ["Kop"]),
        ("", []),
    ],
)
def test_the_text_read_with_the_headings_is_the_plain_text(
    markdown_text: str, headings: list[str]
) -> None:
    rendered = render(markdown_text, markdown_engine({"AI": "Artificiële intelligentie"}))
    reader = _Text()
    reader.feed(rendered.html)
    reader.close()
    assert rendered.text == " ".join("".join(reader.parts).split())
    assert [heading.text for heading in rendered.headings] == headings


def test_the_shared_emoji_index_renders_as_the_extensions_default() -> None:
    text = "Kop :smile: :+1: :thumbsup: :flag_nl: :onbekend: :heart:"
    default = markdown.Markdown(
        extensions=["pymdownx.emoji"],
        extension_configs={"pymdownx.emoji": {"emoji_generator": to_alt}},
    )
    expected = default.convert(text)
    assert "\U0001f604" in expected  # :smile: became its character
    engines = (heading_engine(), markdown_engine({}))
    assert [engine.convert(text) for engine in engines] == [expected, expected]
    # the same index as the extension's default (EmojiOne), still so after it was used
    assert _emoji_index({}, engines[0]) == emojione({}, default)
