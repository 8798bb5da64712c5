"""Code services, one module per verb: generate, lookup (and listing), claim (and the token
exchange), send and delete.

Every function takes a session, flushes, and never commits: the caller (an HTTP request, a bot
command, a CLI command) owns the transaction and rolls back after a DomainError. Each function
says what shape of work it does (``shared.db``: a read, one statement, or a write transaction).
"""

from shared.codes.claim import TOKEN_LIFETIME, claim_code, exchange_token
from shared.codes.delete import delete_code
from shared.codes.generate import generate_codes
from shared.codes.lookup import get_code, list_claims, list_codes
from shared.codes.send import refuse_unsendable, send_code

__all__ = [
    "TOKEN_LIFETIME",
    "claim_code",
    "delete_code",
    "exchange_token",
    "generate_codes",
    "get_code",
    "list_claims",
    "list_codes",
    "refuse_unsendable",
    "send_code",
]
