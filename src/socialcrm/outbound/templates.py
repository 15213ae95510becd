"""Email templates: sandboxed Jinja2, an HTML part and a plain-text part.

A template is one Jinja2 source, rendered in an
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (a template written in the web
builder cannot reach Python's internals or change the data it is given) with
undefined names as errors, not blanks: ``Dear {{ nmae }}`` fails at preview, naming the
line, instead of reaching ten thousand customers.

The convention for the two parts:

- the HTML part is the whole template, autoescaped (a customer's name with ``<`` in it
  stays text);
- the plain-text part is the template's ``{% block text %}…{% endblock %}`` when it has
  one, rendered without escaping (and left out of the HTML part); without one, it is
  derived from the HTML: tags dropped, paragraphs and line breaks kept, each link's
  address written after its words.

The subject is a template too (no escaping: it is a header, not HTML).

>>> t = load_template("<p>Hi {{ name }}!</p>{% block text %}Hi {{ name }}!{% endblock %}",
...                   "For {{ name }}")
>>> r = t.render({"name": "Ann & Bo"})
>>> r.subject, r.html, r.text
('For Ann & Bo', '<p>Hi Ann &amp; Bo!</p>', 'Hi Ann & Bo!')
>>> load_template("<p>{{ name }</p>", "x")
Traceback (most recent call last):
...
socialcrm.outbound.templates.TemplateError: template line 1: unexpected '}'
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEXT_BLOCK = "text"
_NAME = "<template>"


class TemplateError(ValueError):
    """A template that does not compile or render; the message names the line."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False
    )


_HTML_ENV = _env(True)
_TEXT_ENV = _env(False)


def _compile(env: ImmutableSandboxedEnvironment, source: str, what: str) -> Template:
    try:
        return env.from_string(source)
    except TemplateSyntaxError as e:
        raise TemplateError(f"{what} line {e.lineno}: {e.message}") from None


def _line_of(e: BaseException, template: Template) -> int | None:
    """The template line an error was raised on: the innermost frame of the compiled
    template, mapped back to its source line."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == _NAME]
    return template.get_corresponding_lineno(lines[-1]) if lines and lines[-1] else None


def _render(parts: Iterator[str], template: Template, what: str) -> str:
    try:
        return "".join(parts)
    except (UndefinedError, SecurityError, JinjaError, TypeError, ValueError, ArithmeticError,
            LookupError) as e:  # fmt: skip
        line = _line_of(e, template)
        where = f"{what} line {line}" if line else what
        raise TemplateError(f"{where}: {e}") from None


class EmailTemplate:
    """A compiled template and subject; :meth:`render` gives both parts for one person."""

    def __init__(self, source: str, subject: str) -> None:
        self.source = source
        self._html = _compile(_HTML_ENV, source, "template")
        self._text = _compile(_TEXT_ENV, source, "template")
        self._subject = _compile(_TEXT_ENV, subject, "subject")
        self.has_text_block = TEXT_BLOCK in self._html.blocks

    def render(self, context: Mapping[str, object]) -> RenderedEmail:
        """Subject, HTML and text for ``context``; :class:`TemplateError` names the line."""
        data: dict[str, Any] = dict(context)
        ctx = self._html.new_context(data)
        if self.has_text_block:
            # the text block is the text part only: blank it out of the HTML
            ctx.blocks[TEXT_BLOCK] = [lambda _ctx: iter(())]
        html = _render(self._html.root_render_func(ctx), self._html, "template").strip()
        if self.has_text_block:
            block = self._text.blocks[TEXT_BLOCK]
            text = _render(block(self._text.new_context(data)), self._text, "template").strip()
        else:
            text = html_to_text(html)
        parts = self._subject.root_render_func(self._subject.new_context(data))
        subject = _render(parts, self._subject, "subject")
        return RenderedEmail(subject=" ".join(subject.split()), html=html, text=text)


def load_template(source: str, subject: str) -> EmailTemplate:
    """Compile ``source`` and ``subject`` (syntax errors are raised here, with their line)."""
    return EmailTemplate(source, subject)


# -- the text part, from the HTML ------------------------------------------------------------
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "div", "dl", "dt", "dd", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
    "table", "tr", "ul",
})  # fmt: skip
_ITEMS = frozenset({"li", "tr", "dd", "dt"})  # one line each, no blank line between
_SKIP = frozenset({"head", "style", "script", "title"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n" if tag in _ITEMS else "\n\n")
            if tag == "li":
                self.out.append("- ")
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS and tag not in _ITEMS:
            self.out.append("\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and re.match(r"(?i)(https?|mailto):", href):
                self.out.append(f" ({href.removeprefix('mailto:')})")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A readable plain-text version of an email's HTML.

    >>> html_to_text('<p>Hello <b>Ann</b>,</p><p><a href="https://x.example/">our shop</a></p>')
    'Hello Ann,\\n\\nour shop (https://x.example/)'
    """
    p = _Text()
    p.feed(html)
    p.close()
    lines = [" ".join(line.split()) for line in "".join(p.out).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


__all__ = ["EmailTemplate", "RenderedEmail", "TemplateError", "html_to_text", "load_template"]
