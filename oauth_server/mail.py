"""Outgoing e-mail: rendered from templates/mail/, sent by a background job.

For a caller::

    from oauth_server import mail

    mail.send_later(
        "invitation",                      # templates/mail/invitation.txt and .html
        to="bob@acme.test",
        company_name=company.name,
        link=url,                          # whatever the templates use
    )
    db.session.commit()                    # queued on commit (jobs.enqueue)

A new kind is a ``KINDS`` entry (its subject, a Jinja template) and its two templates, each
extending ``mail/base.txt`` and ``mail/base.html``, which name the company. Every message
has a plain-text and an HTML part.

No token, secret or password is ever in an e-mail (a link with a single-use code is fine):
``send_later`` refuses a context key named like one and any value that looks like one of
our token strings, and the job refuses to send a rendered message that contains one. The
one exception is a password link's code (``tokens.Kind.PASSWORD_LINK``) inside our own
"Set your password" URL, passed as ``link``.

Where it goes: SMTP when MAIL_SERVER is set, else one file per message in the instance
folder's ``mail/`` (``MAIL_FILE_PATH``), whose path the worker logs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask import current_app
from flask import render_template
from flask_mailman import EmailMultiAlternatives
from flask_mailman import Mail
from jinja2 import Environment

from oauth_server import jobs
from oauth_server import tokens
from oauth_server import urls
from oauth_server.errors import DomainError
from oauth_server.models.jobs import Job

log = logging.getLogger("oauth_server.mail")

mailman = Mail()

#: Each kind of e-mail and its subject (a Jinja template; same context as the body).
KINDS: dict[str, str] = {
    "test": "Test e-mail from {{ company_name }}",
    "approval_requested": "{{ requested_by }} asks to connect {{ app_name }} to {{ company_name }}",
    "invitation": "You are invited to {{ company_name }}'s workspace",
    "password_reset": "Set a new password for {{ company_name }}'s workspace",
    "token_expiring": "API token “{{ name }}” expires in {{ days }} day{{ 's' if days != 1 }}",
    "token_leaked": "{{ count }} leaked {{ 'token' if count == 1 else 'tokens' }} of "
    "{{ company_name }} revoked",
}

JOB_KIND = "mail.send"
# A subject is a header, plain text: not HTML-escaped ("Acme & Sons", not "&amp;").
_SUBJECTS = Environment(autoescape=False)

# Context keys that name a secret: a caller passes a link, never the secret itself.
_SECRET_KEY = re.compile(r"(?i)password|passwd|secret|token|api_?key|credential")
# What must never be in an e-mail: our token strings (tokens.Kind: a prefix, then the
# base62 body), and stored password hashes (argon2, werkzeug's pbkdf2 and scrypt).
_SECRET_TEXT = re.compile(
    tokens.PREFIX_PATTERN + "[0-9A-Za-z]{4,}"
    r"|\$argon2(?:id|i|d)\$|\b(?:pbkdf2:sha\d+|scrypt):\d+"
)


# The one endpoint whose link may carry a code (a password link's, single use): the
# guards let that code through there, under the ``link`` key, and nowhere else.
SET_PASSWORD_ENDPOINT = "auth.set_password"
_CODE = (
    re.escape(tokens.Kind.PASSWORD_LINK.value)
    + f"[0-9A-Za-z]{{{tokens.BODY_LENGTH + tokens.CHECKSUM_LENGTH}}}(?![0-9A-Za-z])"
)


def _own_links_removed(text: str) -> str:
    """``text`` without our own "Set your password" links: what the guards then check."""
    start = urls.external_url(SET_PASSWORD_ENDPOINT, code="0")[:-1]
    return re.sub(re.escape(start) + _CODE, "", text)


def _carries_secret(text: str, *, link: bool = False) -> bool:
    return bool(_SECRET_TEXT.search(_own_links_removed(text) if link else text))


class UnsafeMail(DomainError):
    """An e-mail would carry a secret, or misses what every e-mail must have."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def init_app(app: Flask) -> None:
    mailman.init_app(app)


def send_later(kind: str, *, to: str, company_name: str, **context: Any) -> str:
    """Queue an e-mail of ``kind`` to ``to``, naming ``company_name``; the job's id.

    Rendered once now, so that a bad context fails here, in the caller, and not in the
    worker; rendered again at sending, with the templates the worker has.
    """
    if not to or "\n" in to or "\r" in to:
        raise UnsafeMail("An e-mail needs one recipient address.")
    for key, value in _flatten(context):
        if _SECRET_KEY.search(key):
            raise UnsafeMail(f"An e-mail's context may not carry {key!r}: pass a link instead.")
        if isinstance(value, str) and _carries_secret(value, link=key == "link"):
            raise UnsafeMail(f"An e-mail's context may not carry a token ({key!r}).")
    render(kind, company_name=company_name, **context)
    return jobs.enqueue(JOB_KIND, kind=kind, to=to, company_name=company_name, context=context)


def render(kind: str, *, company_name: str, **context: Any) -> Rendered:
    """The subject and both parts of an e-mail; ``UnsafeMail`` if one would carry a secret."""
    if kind not in KINDS:
        raise UnsafeMail(f"No e-mail of kind {kind!r}.")
    if not company_name.strip():
        raise UnsafeMail("Every e-mail names the company.")
    values = {**context, "company_name": company_name, "issuer": current_app.config["OAUTH_ISSUER"]}
    subject = " ".join(_SUBJECTS.from_string(KINDS[kind]).render(**values).split())
    rendered = Rendered(
        subject=subject,
        text=render_template(f"mail/{kind}.txt", **values),
        html=render_template(f"mail/{kind}.html", **values),
    )
    for part in (rendered.subject, rendered.text, rendered.html):
        if _carries_secret(part, link=True):
            raise UnsafeMail(f"An e-mail of kind {kind!r} would carry a secret: not sent.")
    return rendered


@jobs.handler(JOB_KIND)
def _send(job: Job) -> None:
    """The job: render and send one e-mail. Its Message-ID comes from the job's id, so a
    copy sent again after a worker died mid-send is recognizable as the same message."""
    args = job.args
    rendered = render(args["kind"], company_name=args["company_name"], **args["context"])
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    domain = sender.rpartition("@")[2].strip(" >") or "localhost"
    connection = _connection()
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=sender,
        to=[args["to"]],
        headers={"Message-ID": f"<{job.id}@{domain}>"},
        connection=connection,
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    ids = {"job_id": job.id, "kind": args["kind"]}
    where = getattr(connection, "_fname", None)  # the file backend's file
    if where:
        log.info("mail written to a file", extra={**ids, "path": where})
    else:
        log.info("mail sent", extra=ids)


def _connection() -> Any:
    config = current_app.config
    backend = config.get("MAIL_BACKEND")  # a test may choose one: "locmem"
    if backend:
        return mailman.get_connection(backend=backend)
    if config.get("MAIL_SERVER"):
        return mailman.get_connection(
            backend="smtp",
            host=config["MAIL_SERVER"],
            port=config["MAIL_PORT"],
            username=config.get("MAIL_USERNAME") or "",
            password=config.get("MAIL_PASSWORD") or "",
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            timeout=config["MAIL_TIMEOUT"],
        )
    return mailman.get_connection(backend="file", file_path=config["MAIL_FILE_PATH"])


def _flatten(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k), v
            yield from _flatten(v, str(k))
    elif isinstance(value, list | tuple):
        for v in value:
            yield key, v
            yield from _flatten(v, key)
