"""Section Markdown to safe HTML: markdown-it-py (CommonMark + tables) and nh3.

The content is trusted no further than the sanitiser lets it: raw HTML in the Markdown is
allowed through markdown-it and then cleaned by nh3 (no script or style, no event handlers, no
``javascript:`` or other unlisted URL schemes, no ids or inline styles). On top of CommonMark:

* MkDocs admonitions (``!!! tip "Title"`` and the collapsible ``??? expander "Title"``) become
  ``<aside>`` and ``<details>`` blocks;
* attribute lists (``{ .button }``, ``{ data-search-exclude }``) are dropped;
* relative links (``../hulpmiddelen/IAMA.md``) go to the page of the URN that file defines,
  through the ``resolve`` callback; links that resolve nowhere lose their ``href``;
* images are not loaded (no third-party requests from our pages): an image becomes a link to
  it, labelled with its alt text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

#: ``resolve(href)``: the site URL a relative link goes to, or None.
Resolver = Callable[[str], str | None]

_ADMONITION = re.compile(
    r"^(?P<indent>[ ]*)(?P<marker>!!!|\?\?\?\+?)[ ]*(?P<kind>[A-Za-z][\w-]*)?"
    r'(?:[ ]+"(?P<title>[^"]*)")?[ ]*$'
)
_ATTRIBUTE_LIST = re.compile(r"\{\s*(?:[.#:]|data-)[^{}\n]*\}")
_ADMONITION_KINDS = frozenset(
    {
        "note",
        "abstract",
        "info",
        "tip",
        "success",
        "question",
        "warning",
        "failure",
        "danger",
        "bug",
        "example",
        "quote",
        "expander",
    }
)
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_TAGS = frozenset(nh3.ALLOWED_TAGS) - {"area", "map", "center", "img"}


def _parser() -> MarkdownIt:
    # Cheap to make (0.1 ms): one per call rather than shared state.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render_markdown(text: str, resolve: Resolver) -> Markup:
    """Sanitised HTML for a piece of Markdown."""
    parser = _parser()
    tokens = parser.parse(preprocess(text))
    for token in tokens:
        if token.type == "inline" and token.children:
            token.children = list(_rewrite_inline(token.children, resolve))
    raw = parser.renderer.render(tokens, parser.options, {})
    return Markup(sanitize(raw))


def sanitize(raw_html: str) -> str:
    classes = set(_ADMONITION_KINDS) | {"admonition"}
    return nh3.clean(
        raw_html,
        tags=set(_TAGS),
        clean_content_tags={"script", "style"},
        attributes={
            "a": {"href", "hreflang", "title"},
            "th": {"align"},
            "td": {"align"},
            "ol": {"start"},
            "abbr": {"title"},
            "*": {"lang"},
        },
        allowed_classes={"aside": classes, "details": classes},
        url_schemes=set(_SAFE_SCHEMES),
        link_rel="noopener noreferrer",
    )


def preprocess(text: str) -> str:
    """MkDocs-isms to CommonMark + HTML: admonitions, attribute lists."""
    lines = _ATTRIBUTE_LIST.sub("", text.expandtabs(4)).split("\n")
    return "\n".join(_admonitions(lines))


def _admonitions(lines: list[str]) -> Iterator[str]:
    i = 0
    while i < len(lines):
        match = _ADMONITION.match(lines[i])
        if match is None:
            yield lines[i]
            i += 1
            continue
        indent = len(match.group("indent"))
        body: list[str] = []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > indent
        ):
            body.append(lines[i][indent + 4 :] if lines[i].strip() else "")
            i += 1
        while body and not body[-1]:
            body.pop()
        kind = (match.group("kind") or "note").lower()
        css = kind if kind in _ADMONITION_KINDS else "note"
        title = match.group("title")
        title = html.escape(title if title is not None else kind.capitalize())
        pad = " " * indent
        if match.group("marker").startswith("???"):
            yield f'{pad}<details class="admonition {css}">'
            yield f"{pad}<summary>{title}</summary>" if title else f"{pad}<summary></summary>"
            closing = "</details>"
        else:
            yield f'{pad}<aside class="admonition {css}">'
            if title:
                yield f"{pad}<strong>{title}</strong>"
            closing = "</aside>"
        yield ""
        yield from (f"{pad}{line}" if line else "" for line in _admonitions(body))
        yield ""
        yield f"{pad}{closing}"
        yield ""


def _rewrite_inline(children: list[Token], resolve: Resolver) -> Iterator[Token]:
    for token in children:
        if token.type == "link_open":
            href = str(token.attrs.get("href", ""))
            target = rewrite_href(href, resolve)
            if target is None:
                token.attrs.pop("href", None)
            else:
                token.attrs["href"] = target
            yield token
        elif token.type == "image":
            yield from _image_as_link(token)
        else:
            yield token


def rewrite_href(href: str, resolve: Resolver) -> str | None:
    """Where a link in the Markdown should point on this site, or None for nowhere."""
    parts = urlsplit(href)
    if parts.scheme:
        return href if parts.scheme.lower() in _SAFE_SCHEMES else None
    if href.startswith("#"):
        return href
    if href.startswith("//"):
        return None
    return resolve(href)


def _image_as_link(image: Token) -> Iterator[Token]:
    src = str(image.attrs.get("src", ""))
    alt = "".join(child.content for child in image.children or []) or image.content
    text = Token("text", "", 0, content=f"[Afbeelding: {alt}]" if alt else "[Afbeelding]")
    if urlsplit(src).scheme.lower() in ("http", "https"):
        yield Token("link_open", "a", 1, attrs={"href": src})
        yield text
        yield Token("link_close", "a", -1)
    else:
        yield text
