"""Which URLs a webhook may call: https, and never a private address unless the operator allows it.

The address a host resolves to is checked when the endpoint is registered and again before every
delivery (a DNS answer can change after registration: SSRF through DNS), and the delivery connects
to the very address that was checked. With ``WEBHOOKS_ALLOW_PRIVATE=true`` (development, an
internal network) loopback and private addresses are allowed, and plain http with them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.errors import InvalidInput
from shared.models import URL_LENGTH

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UnsafeUrl(ValueError):
    """A URL a webhook may not call, with the reason in words."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one POST goes: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: Address) -> bool:
    """Whether an address is on the public internet: not private, loopback, link-local, shared,
    reserved, multicast or unspecified (an IPv4-mapped IPv6 address counts as its IPv4 one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def target(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> Target:
    """Check ``url`` and resolve its host; raises UnsafeUrl saying what is wrong."""
    if len(url) > URL_LENGTH:
        raise UnsafeUrl(f"At most {URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Not a valid URL.") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("Must be an https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Must not carry a user name or password.")
    if parts.fragment:
        raise UnsafeUrl("Must not have a #fragment.")
    if any(ord(character) <= 32 for character in url):
        raise UnsafeUrl("Must not contain spaces or control characters.")
    port = port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    try:
        addresses = (resolver or resolve)(host, port)
    except (OSError, UnicodeError):
        raise UnsafeUrl(f"The host {host} could not be resolved.") from None
    if not addresses:
        raise UnsafeUrl(f"The host {host} could not be resolved.")
    parsed = [ipaddress.ip_address(address.split("%")[0]) for address in addresses]
    private = [str(address) for address in parsed if not is_public(address)]
    if private and not allow_private:
        raise UnsafeUrl(
            f"The host {host} resolves to a private, loopback or link-local address ({private[0]}); "
            "webhooks only call public addresses."
        )
    if parts.scheme == "http" and not (allow_private and len(private) == len(parsed)):
        raise UnsafeUrl("Must be an https:// URL (plain http only for private addresses, when allowed).")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=addresses[0])


def checked_url(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> str:
    """``url`` stripped, or InvalidInput on the ``url`` field."""
    url = url.strip()
    try:
        target(url, allow_private=allow_private, resolver=resolver)
    except UnsafeUrl as exc:
        raise InvalidInput({"url": [str(exc)]}) from None
    return url
