"""Email delivery: message composition, transports (SMTP or .eml files), the outbox and its worker.

No Flask here: ``flask --app wsgi worker`` (api/cli/mail.py) and ``python -m shared.mail.worker``
both run :class:`shared.mail.worker.Worker`. See docs/email.md.
"""
