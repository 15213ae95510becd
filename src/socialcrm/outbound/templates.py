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

The sandbox keeps a template away from Python's internals, not from the machine's time
and memory: ``{% for i in range(100000) %}{% for j in range(100000) %}``, ``'a' * 10**10``
or ``lipsum(n=10**6)`` would hold a worker for hours or take all its memory, from a
preview in the web builder. So each render has a budget (:class:`_Budget`): loop
iterations and calls (:data:`MAX_STEPS`), and characters made by operators, filters and
the output itself (:data:`MAX_CHARS`); sizes asked of a filter or an operator are
checked *before* the work (a ``center(10**10)`` is refused, not attempted). Going over
is a :class:`TemplateError` naming the line, like any other mistake in a template.

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

import functools
import re
import string
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

TEXT_BLOCK = "text"
_NAME = "<template>"
MAX_SOURCE = 512 * 1024
"""The longest template source (characters): a big newsletter is a few tens of KB."""
MAX_STEPS = 100_000
"""Loop iterations and calls in one render."""
MAX_CHARS = 2_000_000
"""Characters one render may make (strings built, the output); mail clients clip at 100 KB."""
MAX_ARG = 100_000
"""The largest number a filter or a format may be given as a size (a width, a count)."""


class TemplateError(ValueError):
    """A template that does not compile or render; the message names the line."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


class _Budget:
    """What one render may still spend."""

    __slots__ = ("chars", "steps")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.chars = MAX_CHARS

    def step(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise SecurityError(f"the template does too much work (over {MAX_STEPS:,} steps)")

    def spend(self, n: int) -> None:
        self.chars -= n
        if self.chars < 0:
            raise SecurityError(f"the template makes too much text (over {MAX_CHARS:,} characters)")


_BUDGET: ContextVar[_Budget | None] = ContextVar("socialcrm_template_budget", default=None)


def _budget() -> _Budget:
    b = _BUDGET.get()
    if b is None:  # also keeps the compiler from running filters at compile time
        raise SecurityError("templates run only inside EmailTemplate.render")
    return b


def _size(value: object) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _check_arg(n: object) -> None:
    if isinstance(n, int) and not isinstance(n, bool) and abs(n) > MAX_ARG:
        raise SecurityError(f"a size of {n} is over the limit of {MAX_ARG:,}")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent(fmt: object) -> None:
    """``'%0999999999d' % 1``: a width or precision over the limit, or ``*``, refused."""
    if isinstance(fmt, str):
        for m in _PERCENT_SPEC.finditer(fmt):
            for g in m.groups():
                if g == "*" or (g and int(g) > MAX_ARG):
                    raise SecurityError("a format width or precision over the limit")


def _check_format(fmt: str) -> None:
    """``'{:>999999999}'.format(1)`` and nested ``{:{}}`` widths refused."""
    for _lit, _field, spec, _conv in string.Formatter().parse(fmt):
        if spec and ("{" in spec or any(int(d) > MAX_ARG for d in re.findall(r"\d+", spec))):
            raise SecurityError("a format width or precision over the limit")


def _estimate(name: str, value: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> int:
    """What a filter that can multiply its input will make, before it runs."""
    text = value if isinstance(value, str) else ""

    def arg(i: int, key: str, default: Any) -> Any:
        return args[i] if len(args) > i else kw.get(key, default)

    if name == "replace":
        old, new, count = str(arg(0, "old", "")), str(arg(1, "new", "")), arg(2, "count", None)
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        return len(text) + hits * len(new)
    if name == "indent":
        width = arg(0, "width", 4)
        pad = len(width) if isinstance(width, str) else int(width or 0)
        return len(text) + (text.count("\n") + 1) * pad
    if name == "wordwrap":
        width = max(1, int(arg(0, "width", 79) or 1))
        wrap = arg(2, "wrapstring", None) or "\n"
        return len(text) + (len(text) // width + text.count("\n") + 1) * len(str(wrap))
    if name == "center":
        return max(len(text), int(arg(0, "width", 80) or 0))
    if name == "truncate":
        return len(text) + len(str(arg(2, "end", "...")))
    return 0


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its sizes checked before it runs and its result paid for after."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kw: Any) -> Any:
        budget = _budget()
        budget.step()
        value, extra = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
        for a in (*extra, *kw.values()):
            _check_arg(a)
        if name == "format":
            _check_percent(value)
        elif name == "join" and value is not None and not isinstance(value, str):
            items = list(value)  # sized first: a long separator times many items
            budget.step(len(items))
            sep = str(extra[0] if extra else kw.get("d", ""))
            budget.spend(sum(len(str(x)) for x in items) + len(sep) * len(items))
            args = (*args[:skip], items, *extra)
        budget.spend(_estimate(name, value, extra, kw))
        out = func(*args, **kw)
        budget.spend(_size(out))
        return out

    return guarded


class _Guards(NodeTransformer):
    """Rewrites a parsed template so that every loop counts its steps and every ``~``
    pays for the string it builds."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _env_call("_loop_guard", node.iter, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _env_call("_size_guard", node, node.lineno)


def _env_call(name: str, arg: nodes.Node, lineno: int) -> nodes.Call:
    fn = nodes.EnvironmentAttribute(name, lineno=lineno)
    return nodes.Call(fn, [arg], [], None, None, lineno=lineno)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with a budget per render (see the module's notes)."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def __init__(self, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=False
        )
        self.globals.pop("lipsum", None)  # lipsum(n=10**6): work for nothing
        for name in ("tojson", "pprint"):  # not for email, and hard to size beforehand
            self.filters.pop(name, None)
        self.filters = {k: _guard_filter(k, f) for k, f in self.filters.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        out = _Guards().visit(tree)
        assert isinstance(out, nodes.Template)
        return out

    @staticmethod
    def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
        budget = _budget()
        for x in iterable:
            budget.step()
            yield x

    @staticmethod
    def _size_guard(value: Any) -> Any:
        _budget().spend(_size(value))
        return value

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _budget().step()  # a macro calling itself twice, fifty deep, is 2**50 calls
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        fmt = super().wrap_str_format(value)
        if fmt is None:
            return None
        template = value.__self__  # the string whose format or format_map it is
        inner = fmt

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(str(template))
            return inner(*args, **kwargs)

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int):
                    budget.spend(len(seq) * max(0, n))
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left).bit_length() * right > 64 * MAX_ARG // 10:
                raise SecurityError(f"{left} ** {right} is too large a number")
        elif operator == "%":
            _check_percent(left)
        out = super().call_binop(context, operator, left, right)
        budget.spend(_size(out))
        return out


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return _Sandbox(autoescape)


_HTML_ENV = _env(True)
_TEXT_ENV = _env(False)


def _compile(env: ImmutableSandboxedEnvironment, source: str, what: str) -> Template:
    if len(source) > MAX_SOURCE:
        raise TemplateError(f"{what}: over {MAX_SOURCE // 1024} KB; keep an email smaller")
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
    budget = _BUDGET.get()
    reset = _BUDGET.set(_Budget()) if budget is None else None
    try:
        budget = _budget()
        out = []
        for part in parts:
            budget.spend(len(part))
            out.append(part)
        return "".join(out)
    except (UndefinedError, SecurityError, JinjaError, TypeError, ValueError, ArithmeticError,
            LookupError, RecursionError) as e:  # fmt: skip
        line = _line_of(e, template)
        where = f"{what} line {line}" if line else what
        raise TemplateError(f"{where}: {e}") from None
    finally:
        if reset is not None:
            _BUDGET.reset(reset)


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
        reset = _BUDGET.set(_Budget())  # one budget for the three parts
        try:
            return self._render_all(dict(context))
        finally:
            _BUDGET.reset(reset)

    def _render_all(self, data: dict[str, Any]) -> RenderedEmail:
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
