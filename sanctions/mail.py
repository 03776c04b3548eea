"""Mailing the change report through the SMTP server of the configuration.

Officers start their day from this mail: the text report as the body, the
HTML one as the alternative part.  The password comes from the
configuration (best from ``$SANCTIONS_SMTP_PASSWORD``, never the file in
version control).
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from sanctions.config import Settings


class MailError(Exception):
    """The report could not be handed to the SMTP server."""


def enabled(settings: Settings) -> bool:
    return bool(settings[("smtp", "host")] and settings[("smtp", "to")])


def send(settings: Settings, subject: str, text: str, html: str | None = None, timeout: float = 30.0) -> None:
    host, port = settings[("smtp", "host")], int(settings[("smtp", "port")])
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings[("smtp", "sender")]
    message["To"] = ", ".join(settings[("smtp", "to")])
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            if settings[("smtp", "starttls")]:
                client.starttls()
            if settings[("smtp", "username")]:
                client.login(settings[("smtp", "username")], settings[("smtp", "password")] or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"cannot mail the report through {host}:{port}: {exc}") from None
