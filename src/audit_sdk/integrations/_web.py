"""What the ASGI and WSGI middleware share: client address, request id, trace context."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from audit_sdk._logger import new_uuid4

__all__ = [
    "MAX_REQUEST_ID",
    "RequestIdPolicy",
    "TrustedProxies",
    "client_address",
    "extract_trace_context",
    "valid_request_id",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REQUEST_ID = 128
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@\-]{1,128}$")


class TrustedProxies:
    """The proxies whose X-Forwarded-For entries are believed: addresses or CIDR networks."""

    __slots__ = ("_networks",)

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        if isinstance(proxies, str):
            raise TypeError("trusted_proxies takes a list of addresses or networks")
        networks: list[Network] = []
        for proxy in proxies:
            try:
                networks.append(ipaddress.ip_network(proxy.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: object) -> bool:
        parsed = _parse_ip(address) if isinstance(address, str) else None
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        return any(parsed in network for network in self._networks)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _strip_port(entry: str) -> str:
    """`1.2.3.4:80` -> `1.2.3.4`, `[2001:db8::1]:80` -> `2001:db8::1`; bare IPv6 is kept."""
    entry = entry.strip().strip('"')
    if entry.startswith("["):
        end = entry.find("]")
        return entry[1:end] if end > 0 else entry
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: TrustedProxies
) -> str | None:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Then X-Forwarded-For is read from the right: each trusted proxy vouches for
    the entry left of it, so the right-most entry that is not a trusted proxy
    is the client. Entries further left were written by the client itself and
    are never believed. When every entry is a trusted proxy, the left-most is
    taken; an entry that is not an IP address (`unknown`, garbage) stops the
    walk at the last address known for sure. A header from an untrusted peer
    is ignored altogether.
    """
    if peer is None or not trusted or peer not in trusted or not forwarded_for:
        return peer
    hops = [_strip_port(part) for value in forwarded_for for part in value.split(",")]
    known = peer
    for hop in reversed([hop for hop in hops if hop]):
        address = _parse_ip(hop)
        if address is None:
            return known
        if hop not in trusted:
            return str(address)
        known = str(address)
    return known


def valid_request_id(value: str | None) -> str | None:
    """The header's request id when it is a short token of safe characters, else None."""
    if value is None:
        return None
    value = value.strip()
    return value if _REQUEST_ID.match(value) else None


@dataclass(frozen=True, slots=True)
class RequestIdPolicy:
    """Where the request id comes from: a trusted header, else a new UUID."""

    header: str | None = "x-request-id"
    generate: Callable[[], str] = new_uuid4

    def resolve(self, header_value: str | None) -> str:
        return valid_request_id(header_value) or self.generate()


def extract_trace_context(carrier: Any, getter: Any = None) -> otel_context.Context | None:
    """A context continuing the caller's trace (`traceparent`) when no span is active yet.

    When OpenTelemetry instrumentation already runs around the app, its span is
    active and this returns None (nothing to do): records take that span.
    """
    if trace.get_current_span().get_span_context().is_valid:
        return None
    ctx = propagate.extract(carrier, getter=getter) if getter else propagate.extract(carrier)
    if not trace.get_current_span(ctx).get_span_context().is_valid:
        return None
    return ctx
