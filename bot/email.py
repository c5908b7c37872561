"""E-mail delivery of the outbox over SMTP, rendered in the recipient's language at send time."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib

from bot.outbox import PermanentFailure, RetryLater, Sender, Worker
from core.config import SmtpSettings
from models import outbox, plugins
from models.accounts import EMAILS
from models.i18n import translate
from models.notifications import center
from models.outbox import OutboxItem, OutboxKind
from models.users import User

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30


async def render(item: OutboxItem, sender: str) -> EmailMessage:
    """The message for `item`, in the language of its user (English without one)."""
    # The platform's e-mails, then those the registered packages declare.
    template = EMAILS.get(item.template) or plugins.templates(OutboxKind.EMAIL).get(item.template)
    if template is None:
        raise PermanentFailure(f"unknown e-mail template {item.template!r}")
    user = await User.get_or_none(id=item.user_id) if item.user_id else None
    locale = user.locale if user is not None else None
    params = await outbox.render_params(item)
    if item.template == center.EMAIL:
        params.update(await center.email_params(item, locale))
    message = EmailMessage()
    message["From"] = sender
    message["To"] = item.address
    message["Subject"] = translate(template.subject, locale, **params)
    message["Date"] = formatdate(localtime=False)
    # One id per outbox row: if a retry ever delivers twice, mail clients see one message.
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    message["Message-ID"] = f"<outbox-{item.id}@{domain}>"
    message.set_content(translate(template.body, locale, **params))
    return message


def _classify(exc: Exception) -> Exception:
    """Map an SMTP failure to "try again later" or "never deliverable"."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [error.code for error in exc.recipients]
        if codes and all(code >= 500 for code in codes):
            return PermanentFailure(f"recipient refused: {exc}")
    elif isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code in (550, 551, 553):
        return PermanentFailure(f"mailbox unavailable: {exc.code} {exc.message}")
    # 4xx, timeouts, refused connections and server-side 5xx (authentication, policy) are
    # problems of the moment or of our configuration: keep the mail and retry with backoff.
    return RetryLater(f"{type(exc).__name__}: {exc}")


def email_sender(settings: SmtpSettings) -> Sender:
    password = settings.password.get_secret_value() if settings.password else None

    async def send(item: OutboxItem) -> dict[str, Any]:
        message = await render(item, settings.sender)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=password,
                use_tls=settings.use_tls,
                start_tls=settings.starttls and not settings.use_tls,
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        log.info("sent %s e-mail (outbox item %s)", item.template, item.id)
        return {"message_id": message["Message-ID"]}

    return send


def email_worker(settings: SmtpSettings) -> Worker:
    return Worker(OutboxKind.EMAIL, email_sender(settings))
