"""``socialcrm email``: the email channel's own commands: bounce mailboxes, a test
message, the suppression list.

Thin: it parses, calls :mod:`socialcrm.outbound` (``bounces``, ``mail``, ``suppression``),
and prints. Campaigns are sent with ``socialcrm campaign send``; due emails also go out
with every ``socialcrm inbox deliver`` pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from socialcrm.cli.common import JsonOpt, command_group, fail, opened, out
from socialcrm.config import get_settings

email_app = command_group(
    "email",
    "Email channel: bounce mailboxes, a test message, the suppression list.\n\n"
    "Example: socialcrm email bounces --mbox /var/mail/bounces",
)


def _print(doc: object, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(doc, default=str))
    else:
        out.print(escape(human), highlight=False)


@email_app.command("bounces")
def bounces_cmd(
    mbox: Annotated[
        Path | None, typer.Option("--mbox", help="An mbox file (the bounce address's mail).")
    ] = None,
    maildir: Annotated[Path | None, typer.Option("--maildir", help="A Maildir folder.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read bounces, complaints and mailto unsubscribes from a mailbox, and apply them.

    Delivery reports (RFC 3464) that failed for good suppress the address; delays are
    recorded only; abuse reports (RFC 5965) suppress it as a complaint. Reading the
    same mailbox again applies nothing twice. The mailbox is not changed.

    Example: socialcrm email bounces --mbox /var/mail/bounces --json
    """
    from socialcrm.outbound.bounces import process_mailbox

    if (mbox is None) == (maildir is None):
        raise fail("give --mbox FILE or --maildir DIR")
    path = mbox or maildir
    assert path is not None
    if mbox is not None and not mbox.is_file():
        raise fail(f"no mbox file at {mbox}")
    if maildir is not None and not (maildir / "cur").is_dir():
        raise fail(f"no Maildir at {maildir} (it has no cur/ folder)")
    with opened(workspace=False, app_db=True) as o:
        got = process_mailbox(o.db, get_settings(), path)
    _print(
        got,
        as_json,
        f"{got['messages']} messages: {got.get('hard_bounces', 0)} hard bounces suppressed, "
        f"{got.get('soft_bounces', 0)} soft bounces, {got.get('complaints', 0)} complaints, "
        f"{got.get('unsubscribes', 0)} unsubscribes, {got.get('duplicates', 0)} seen before, "
        f"{got['ignored']} not reports",
    )


@email_app.command("test")
def test_cmd(
    to: Annotated[str, typer.Option("--to", help="Where to send the test message.")],
    template: Annotated[Path, typer.Option("--template", help="The Jinja2 HTML template.")],
    subject: Annotated[str, typer.Option("--subject", help="The subject (a template too).")],
    context: Annotated[
        str | None,
        typer.Option(help='The person to render for, as JSON: \'{"name": "Ann"}\'.'),
    ] = None,
) -> None:
    """Render a template and send it once through SOCIALCRM_SMTP_URL, now.

    Checks the template (an unknown name fails, naming its line), the server, the
    login and TLS, and shows the message as a recipient gets it: both parts, tracked
    links, unsubscribe headers. It is not recorded as a campaign send.

    Example: socialcrm email test --to me@brand.example --template spring.html --subject Hi
    """
    from socialcrm.outbound import mail
    from socialcrm.outbound.channel import ChannelError
    from socialcrm.outbound.email import SmtpSender
    from socialcrm.outbound.templates import TemplateError, load_template
    from socialcrm.outbound.tokens import TokenError

    settings = get_settings()
    try:
        data = json.loads(context) if context else {"name": "Test Person"}
        if not isinstance(data, dict):
            raise ValueError("--context must be a JSON object")
        rendered = load_template(template.read_text(encoding="utf-8"), subject).render(data)
        sender = mail.from_address(settings)
        raw = mail.build_message(settings, recipient=to, rendered=rendered,
                                 campaign_id="test", customer_id="test",
                                 message_id=mail.message_id_for(f"test|{to}|{rendered.subject}",
                                                                sender))  # fmt: skip
        with SmtpSender.from_settings(settings) as smtp:
            smtp.send(mail.valid_address(mail.parse_envelope(sender)), mail.valid_address(to),
                      raw)  # fmt: skip
    except (OSError, ValueError, TemplateError, TokenError, ChannelError) as e:
        raise fail(str(e)) from None
    out.print(f"sent to {escape(to)}: {escape(rendered.subject)}", highlight=False)


@email_app.command("suppress")
def suppress_cmd(
    address: str,
    remove: Annotated[
        bool, typer.Option("--remove", help="Take the address off the list instead.")
    ] = False,
) -> None:
    """Put an address on the suppression list (reason: manual), or take it off.

    Example: socialcrm email suppress ann@example.com
    """
    from socialcrm.outbound.suppression import suppress, unsuppress

    with opened(ValueError, workspace=False, session=True) as o:
        if remove:
            found = unsuppress(o.s, address)
            out.print(("removed " if found else "not on the list: ") + escape(address))
            return
        suppress(o.s, address, "manual", "cli")
    out.print(f"suppressed {escape(address.strip().lower())}", highlight=False)


@email_app.command("suppressions")
def suppressions_cmd(
    limit: Annotated[int, typer.Option(help="Newest first, at most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The suppression list: unsubscribes, hard bounces, complaints, manual entries.

    Example: socialcrm email suppressions --json
    """
    from socialcrm.outbound.suppression import suppressions

    with opened(workspace=False, session=True) as o:
        rows: list[dict[str, str | None]] = [
            {"address": r.address, "reason": r.reason, "source": r.source,
             "campaign_id": r.campaign_id, "at": r.created_at.isoformat()}
            for r in suppressions(o.s, limit)
        ]  # fmt: skip
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        out.print("the suppression list is empty")
    for r in rows:
        out.print(f"{escape(str(r['address']))}  {r['reason']}  {escape(str(r['source']))}  "
                  f"{str(r['at'])[:10]}", highlight=False)  # fmt: skip
