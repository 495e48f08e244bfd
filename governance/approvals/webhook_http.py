"""Outbound webhook HTTP that cannot be pointed at our own network (server-side request forgery).

A webhook URL is checked when it is registered and again at every delivery:
- its host is resolved, and every address it resolves to must be a public one: loopback, private
  (RFC 1918, unique-local fc00::/7), link-local (169.254.0.0/16 — cloud metadata — and fe80::/10), multicast,
  reserved, shared (100.64.0.0/10), documentation and unspecified addresses are refused, in IPv4 and IPv6,
  IPv4 addresses inside IPv6 ones (::ffff:127.0.0.1, 64:ff9b::/96, 2002::/16) judged as the IPv4 address;
- internal receivers are admitted only by an explicit allow-list of networks, WEBHOOK_ALLOWED_NETWORKS
  (CIDRs, e.g. "10.20.0.0/16,fd00:1::/64"; empty by default);
- the delivery connects to the address that was vetted, not to the name again (a second lookup could answer
  differently: DNS rebinding), sending the URL's host in the Host header and, for https, as the TLS server
  name, whose certificate is verified against it;
- no redirect is followed (http.client follows none): a 3xx answer is a failed delivery;
- no proxy from the environment is used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(ValueError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc


def allowed_networks() -> tuple:
    return _networks(tuple(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ()) or ()))


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _kind(ip: Address) -> str | None:
    """Why webhooks may not reach this address ("loopback", ...), or None for a public address."""
    for kind, flag in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("private", ip.is_private), ("reserved", ip.is_reserved)):
        if flag:
            return kind
    if not ip.is_global:
        return "non-public"
    return None


def address_refusal(address: str) -> str | None:
    """None when a webhook may connect to `address`, else why not."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is link-local anyway
    inner = _embedded_ipv4(ip)
    candidates = ([inner] if inner is not None else []) + [ip]  # the IPv4 address inside names the kind
    networks = allowed_networks()
    if any(c in n for c in candidates for n in networks if c.version == n.version):
        return None
    for candidate in candidates:
        kind = _kind(candidate)
        if kind:
            return f"{kind} address {candidate}"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal: itself), in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def vetted_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to; AddressRefused when any of them is one webhooks may not reach (a name
    that answers with a public and a private address is refused whole: which one a client picks is not ours
    to guess)."""
    addresses = resolve(host, port)
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise AddressRefused(f"{shown} is a {reason}: webhooks are sent to public addresses only "
                                 "(an internal receiver's network must be in WEBHOOK_ALLOWED_NETWORKS).")
    return addresses


def _parts(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("The URL must be http(s)://host/…")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def url_refusal(url: str) -> str | None:
    """At registration: None when the URL's host is an allowed address, resolves only to allowed ones, or
    does not resolve (yet: every delivery resolves and vets it again); else why it is refused."""
    try:
        _, host, port, _ = _parts(url)
        vetted_addresses(host, port)
    except AddressRefused as exc:
        return str(exc)
    except (socket.gaierror, UnicodeError):
        return None
    except ValueError as exc:  # a port out of range, a malformed IPv6 literal
        return f"The URL is not valid: {exc}"
    return None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted address; Host stays the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the vetted address; the URL's host is the TLS server name and must match the certificate."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST `body` to `url` through a vetted address; returns the HTTP status (a 3xx is returned, never
    followed). Raises AddressRefused, or OSError when no vetted address answers."""
    scheme, host, port, path = _parts(url)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    error: OSError | None = None
    for address in vetted_addresses(host, port):
        connection = connection_class(host, port, address=address, timeout=timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)  # the receiver's answer is not used; read a little, then hang up
            return response.status
        except (OSError, http.client.HTTPException) as exc:
            error = exc if isinstance(exc, OSError) else OSError(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
    raise error or OSError(f"{host} has no address")
