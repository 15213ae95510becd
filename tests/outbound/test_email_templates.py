"""Email templates: sandboxed, escaped, strict about names, with a text part always."""

from __future__ import annotations

import pytest

from socialcrm.outbound.templates import TemplateError, html_to_text, load_template


def test_html_is_escaped_and_the_text_block_is_the_text_part() -> None:
    t = load_template(
        "<h1>Hello {{ name }}</h1>\n<p>{{ offer }}</p>\n"
        "{% block text %}Hello {{ name }}\n{{ offer }}{% endblock %}",
        "{{ name }}, for you",
    )
    r = t.render({"name": "Ann <script>alert(1)</script>", "offer": "10% & more"})
    assert r.html == (
        "<h1>Hello Ann &lt;script&gt;alert(1)&lt;/script&gt;</h1>\n<p>10% &amp; more</p>"
    )
    assert r.text == "Hello Ann <script>alert(1)</script>\n10% & more"  # text is not HTML
    assert r.subject == "Ann <script>alert(1)</script>, for you"
    assert "block" not in r.html and "Hello Ann" not in r.html.split("</p>")[-1]


def test_without_a_text_block_the_text_part_is_derived_from_the_html() -> None:
    t = load_template(
        "<html><head><style>p { color: red }</style><title>x</title></head><body>"
        "<h1>Spring &amp; you</h1><p>Dear {{ name }},<br>thanks.</p>"
        '<ul><li>One</li><li>Two</li></ul><p><a href="https://shop.example/a?b=1">Shop</a> '
        '<img src="https://x.example/p.png" alt="our logo"></p></body></html>',
        "Hi",
    )
    text = t.render({"name": "Bo"}).text
    assert text == (
        "Spring & you\n\nDear Bo,\nthanks.\n\n- One\n- Two\n\n"
        "Shop (https://shop.example/a?b=1) our logo"
    )
    assert "color" not in text and "<" not in text


def test_an_undefined_name_is_an_error_naming_its_line() -> None:
    t = load_template("<p>Hello</p>\n<p>{{ name }}</p>\n<p>{{ nmae }}</p>", "Hi {{ name }}")
    with pytest.raises(TemplateError, match=r"template line 3: 'nmae' is undefined"):
        t.render({"name": "Ann"})
    with pytest.raises(TemplateError, match=r"subject.*'name' is undefined"):
        load_template("<p>x</p>", "Hi {{ name }}").render({})


def test_a_syntax_error_is_found_when_loading_with_its_line() -> None:
    with pytest.raises(TemplateError, match=r"template line 2: "):
        load_template("<p>ok</p>\n{% if name %}<p>unclosed</p>", "Hi")
    with pytest.raises(TemplateError, match=r"subject line 1: "):
        load_template("<p>ok</p>", "Hi {{ name")


@pytest.mark.parametrize(
    "source",
    [
        "{{ name.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ items.append(4) }}",  # immutable: the template cannot change what it is given
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_unsafe_attributes_and_changes(source: str) -> None:
    t = load_template(f"<p>{source}</p>", "Hi")
    with pytest.raises(TemplateError):
        t.render({"name": "Ann", "items": [1, 2, 3]})


def test_html_to_text_keeps_escaped_text_as_written() -> None:
    assert html_to_text("<p>a &amp;lt; b</p>") == "a &lt; b"
    assert html_to_text('<a href="mailto:hi@example.com">mail us</a>') == (
        "mail us (hi@example.com)"
    )
    assert html_to_text('<a href="javascript:alert(1)">x</a>') == "x"


@pytest.mark.parametrize(
    "source",
    [
        # each is small enough to finish without the budget, and over it
        "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
        "{{ 'a' * 3000000 }}",
        "{{ 'x'|center(3000000) }}",
        "{{ 'a\nb'|indent(3000000) }}",
        "{{ '%03000000d'|format(1) }}",
        "{{ '%03000000d' % 1 }}",
        "{{ '{:>3000000}'.format(1) }}",
        "{{ '{:{}}'.format(1, 30) }}",
        "{% set a = 'xxxxxxxxxx' %}" + "{% set a = a ~ a %}" * 19,
        "{{ 'aaaa'" + "|replace('a', 'aaaa')" * 11 + " }}",
        "{{ range(3)|join('y' * 1000000) }}",
        "{{ 2 ** 10000000 > 1 }}",
        "{{ lipsum(n=5) }}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(18) }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    ],
)
def test_a_template_cannot_take_the_workers_time_or_memory(source: str) -> None:
    t = load_template(f"<p>\n{source}</p>", "Hi")
    with pytest.raises(TemplateError, match=r"^template line [23]: "):
        t.render({"name": "Ann"})


def test_the_budget_is_per_render_and_ordinary_templates_are_untouched() -> None:
    source = (
        "<ul>{% for p in products %}<li>{{ p.name|title }}: {{ '%.2f'|format(p.price) }} "
        "{{ '{} / {}'.format(loop.index, loop.length) }}</li>{% endfor %}</ul>"
        "{{ name ~ '!' }} {{ tags|join(', ') }} {{ 'ab'|replace('b', 'c') * 2 }}"
    )
    t = load_template(source, "For {{ name|upper }}")
    products = [{"name": f"tea {i}", "price": i / 4} for i in range(40)]
    for _ in range(3):  # a budget spent by one render is not the next one's
        r = t.render({"name": "Ann", "products": products, "tags": ["a", "b"]})
    assert r.subject == "For ANN"
    assert r.html.count("<li>") == 40 and "Tea 39: 9.75 40 / 40" in r.html
    assert r.html.endswith("Ann! a, b acac")


def test_a_template_source_over_the_limit_is_refused_when_loaded() -> None:
    with pytest.raises(TemplateError, match="KB"):
        load_template("<p>x</p>" * 100_000, "Hi")


@pytest.mark.parametrize(
    "source",
    [
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as p %}",
        "{% from '../../.web-secret' import x %}",
        "{% extends '/etc/hostname' %}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ range.__self__ }}",
        "{{ self._TemplateReference__context.environment }}",
    ],
)
def test_a_template_reads_no_file_and_reaches_no_globals(source: str) -> None:
    with pytest.raises(TemplateError, match=r"^template line 2: "):
        load_template(f"<p>\n{source}</p>", "Hi").render({"name": "Ann"})
