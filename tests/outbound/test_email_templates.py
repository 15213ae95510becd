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
