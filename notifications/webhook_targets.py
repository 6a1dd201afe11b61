"""Where webhooks may go, and connecting there without being pointed elsewhere.

A target must be https (http only with ``WEBHOOK_ALLOW_HTTP``), carry no credentials, and
have a host whose every address is public: never loopback, private, link-local, shared
(CGNAT), multicast, reserved or unspecified — also when wrapped in IPv6 (IPv4-mapped,
6to4, NAT64) — and never ``localhost``. ``WEBHOOK_ALLOWED_HOSTS`` lets an administrator
allow internal host names, addresses or networks all the same.

``check_target`` runs when a subscription is saved and again before every attempt, and
answers the address it checked; the connection goes to that very address (the Host
header, SNI and the certificate check still use the host name), so a name that resolves
elsewhere a moment later (DNS rebinding) cannot point a delivery inward.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL's parts, and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    def connection(self, *, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return _PinnedHTTPSConnection(self, timeout=timeout)
        return _PinnedHTTPConnection(self, timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; the Host header still names the host."""

    def __init__(self, target: Target, *, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; SNI and the certificate check use the host name."""

    def __init__(self, target: Target, *, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


# --- Checking -------------------------------------------------------------------------

# Carrier-grade NAT (RFC 6598): shared by an ISP's customers, never a public service.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# NAT64 (RFC 6052): an IPv4 address inside IPv6; judged by the IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def validate_webhook_url(url: str) -> None:
    """Raise ``ValidationError`` unless ``url`` may receive webhooks (see the module doc)."""
    check_target(url)


def check_target(url: str) -> Target:
    """``url`` checked, with the address to connect to; ``ValidationError`` if refused."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise ValidationError(_("Use an https:// address."), code="scheme")
    URLValidator(schemes=["http", "https"])(url)
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            _("Leave the user name and password out of the address; deliveries are signed."),
            code="credentials",
        )
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    names, networks = _allowed()
    if host in names:
        addresses = _resolve(host, port)
    else:
        if host in _LOCAL_NAMES or host.endswith(".localhost"):
            raise _internal(host, host)
        addresses = _resolve(host, port)
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if not _is_public(ip) and not any(ip in network for network in networks):
                raise _internal(host, address)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


def _resolve(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ValidationError(
            _("The host %(host)s could not be found."), code="dns", params={"host": host}
        ) from error
    # An IPv6 address may carry a zone ("fe80::1%eth0"); the address is what is judged.
    addresses = list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in found))
    if not addresses:
        raise ValidationError(
            _("The host %(host)s could not be found."), code="dns", params={"host": host}
        )
    return addresses


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _is_public(embedded)
    internal = (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or ip in _SHARED
    )
    return ip.is_global and not internal


def _allowed() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """``WEBHOOK_ALLOWED_HOSTS`` as host names and networks (an address is a /32 or /128)."""
    entries: Sequence[str] | str = settings.WEBHOOK_ALLOWED_HOSTS
    if isinstance(entries, str):
        entries = entries.split(",")
    names, networks = set(), []
    for entry in (e.strip().lower().rstrip(".") for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _internal(host: str, address: str) -> ValidationError:
    return ValidationError(
        _(
            "%(host)s is an internal address (%(address)s). Webhooks go only to public "
            "addresses, unless an administrator allows this host."
        ),
        code="internal",
        params={"host": host, "address": address},
    )
