"""SSRF guard for every outbound request to a user-supplied address.

Three layers, all needed:

1. ``check_url`` before each request: only http/https; hosts that are IP
   literals (also legacy forms such as ``2130706433``, ``0x7f000001``,
   ``0177.0.0.1``, ``127.1``, and bracketed IPv6) or ``localhost`` names are
   vetted at once. aiohttp never calls the resolver for IP literals, so this
   is the only check they get. Names that cannot be a DNS name at all
   (percent-encoded, characters outside letters, digits, ``.``, ``-``, ``_``)
   are refused without a DNS lookup.
2. ``GuardedResolver`` (``herald.security.guarded_http``) in the connector: the request fails if ANY address a
   name resolves to is denied (stricter than Svix, which drops denied
   addresses and dials the rest; same as Hook0). aiohttp dials exactly the
   addresses the resolver returned, so the vetted address is the connected
   one and DNS rebinding cannot slip in between check and connect.
3. No redirects, no proxies: ``guarded_request`` forces
   ``allow_redirects=False`` and refuses ``proxy=``; ``create_guarded_session``
   sets ``trust_env=False``. Either would reach addresses never vetted.

Denied unless an allow CIDR (``HERALD_EGRESS_ALLOW``; the allow list wins, as
in smokescreen) contains the address: loopback, private (RFC 1918, ULA),
link-local, CGNAT, multicast, unspecified, broadcast, reserved, documentation
and benchmarking ranges, ``0.0.0.0/8`` and cloud metadata addresses.
IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is rewritten to IPv4 first, also for the
allow list. NAT64 (``64:ff9b::/96``) and 6to4 (``2002::/16``) inherit the
verdict of the IPv4 address they embed, as in Hook0 (smokescreen denies them
all): NAT64 of a public address is allowed so IPv6-only hosts behind NAT64
keep working, NAT64 of a private one is denied. IPv4-compatible, Teredo and
local-use NAT64 addresses are denied outright: deprecated, or tunnels to
addresses we cannot vet.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "HERALD_EGRESS_ALLOW"
ALLOWED_SCHEMES = frozenset({"http", "https"})

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)

# First match wins, so specific entries precede the ranges that contain them.
_V4_DENIED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/32", "unspecified address"),
        ("0.0.0.0/8", "'this network' address"),
        ("10.0.0.0/8", "private address"),
        ("100.64.0.0/10", "carrier-grade NAT address"),
        ("127.0.0.0/8", "loopback address"),
        ("169.254.0.0/16", "link-local address"),
        ("172.16.0.0/12", "private address"),
        ("192.0.0.0/24", "IETF protocol assignment address"),
        ("192.0.2.0/24", "documentation address"),
        ("192.88.99.0/24", "6to4 relay anycast address"),
        ("192.168.0.0/16", "private address"),
        ("198.18.0.0/15", "benchmarking address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("224.0.0.0/4", "multicast address"),
        ("255.255.255.255/32", "broadcast address"),
        ("240.0.0.0/4", "reserved address"),
    )
)
_V6_DENIED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        ("::/96", "deprecated IPv4-compatible IPv6 address"),
        ("64:ff9b:1::/48", "local-use NAT64 address"),
        ("100::/64", "discard-only address"),
        ("2001::/32", "Teredo tunnel address"),
        ("2001::/23", "IETF protocol assignment address"),
        ("2001:db8::/32", "documentation address"),
        ("3fff::/20", "documentation address"),
        ("fc00::/7", "unique local (private) address"),
        ("fe80::/10", "link-local address"),
        ("fec0::/10", "deprecated site-local address"),
        ("ff00::/8", "multicast address"),
    )
)
# Everything outside global unicast 2000::/3 (NAT64 is handled before this).
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
LEGACY_IPV4 = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")


class EgressDenied(Exception):
    """An outbound request was refused by the egress policy.

    ``reason`` is a short phrase ("loopback address"); ``address`` is the
    refused IP or host, ``hostname`` the name that resolved to it, if any.
    ``str(exc)`` is a complete sentence suitable for delivery history.
    """

    def __init__(self, reason: str, address: str | None = None, *, hostname: str | None = None):
        self.reason = reason
        self.address = address
        self.hostname = hostname
        super().__init__(self._message())

    def _message(self) -> str:
        if self.address is None:
            return f"refused: {self.reason}"
        target = self.address
        if self.hostname is not None and self.hostname != self.address:
            target = f"{self.hostname} at {self.address}"
        return (
            f"refused to connect to {target} ({self.reason}); "
            f"allow it with {ALLOW_SETTING} if intended"
        )


def _strip_zone(text: str) -> str:
    return text.split("%", 1)[0]


def canonical_ip(ip: str | IPAddress) -> IPAddress:
    """Parse ``ip`` (zone ids dropped) and rewrite IPv4-mapped IPv6 to IPv4."""
    addr = ipaddress.ip_address(_strip_zone(ip)) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:
            addr = ipaddress.IPv6Address(_strip_zone(str(addr)))
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
    return addr


def _canonical_network(entry: str) -> IPNetwork:
    try:
        net = ipaddress.ip_network(entry.strip())
    except ValueError as exc:
        raise ValueError(f"{ALLOW_SETTING}: {entry!r} is not a CIDR or address ({exc})") from exc
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED):
        v4 = net.network_address.ipv4_mapped
        return ipaddress.ip_network(f"{v4}/{net.prefixlen - 96}")
    return net


def _table_reason(addr: IPAddress) -> str | None:
    if addr in _METADATA:
        return "cloud metadata address"
    table = _V4_DENIED if isinstance(addr, ipaddress.IPv4Address) else _V6_DENIED
    for net, reason in table:
        if addr in net:
            return reason
    if isinstance(addr, ipaddress.IPv6Address) and addr not in _V6_GLOBAL_UNICAST:
        return "reserved address"
    return None


def _embedded_ipv4(addr: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _SIX_TO_FOUR and addr.sixtofour is not None:
        return "6to4", addr.sixtofour
    return None


class EgressPolicy:
    """Which addresses outbound requests may reach; see the module docstring.

    ``allow`` lists CIDRs or single addresses that are permitted even though
    they fall in a denied range (e.g. ``["127.0.0.1/32", "10.1.0.0/16"]``).
    A plain string is split on commas, like the ``HERALD_EGRESS_ALLOW``
    setting. Invalid entries raise ``ValueError`` naming the entry.
    """

    def __init__(self, allow: Sequence[str] = ()) -> None:
        entries = allow.split(",") if isinstance(allow, str) else allow
        self.allow: tuple[IPNetwork, ...] = tuple(
            _canonical_network(e) for e in entries if e.strip()
        )

    def __repr__(self) -> str:
        return f"EgressPolicy(allow={[str(n) for n in self.allow]!r})"

    def is_allowed_by_list(self, addr: IPAddress) -> bool:
        """Whether an allow CIDR contains the (canonical) address."""
        return any(addr in net for net in self.allow)

    def denial_reason(self, ip: str | IPAddress) -> str | None:
        """Return why ``ip`` is denied, or ``None`` if it may be contacted.

        Raises ``ValueError`` if ``ip`` is not an IP address.
        """
        addr = canonical_ip(ip)
        if self.is_allowed_by_list(addr):
            return None
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            label, inner = embedded
            inner_reason = self.denial_reason(inner)
            if inner_reason is None:
                return None
            return f"{label} address embedding {inner}: {inner_reason}"
        return _table_reason(addr)

    def check_ip(self, ip: str | IPAddress, *, hostname: str | None = None) -> None:
        """Raise ``EgressDenied`` unless ``ip`` may be contacted.

        Unparseable addresses are denied (fail closed).
        """
        try:
            addr = canonical_ip(ip)
        except ValueError:
            raise EgressDenied("not a valid IP address", str(ip), hostname=hostname) from None
        reason = self.denial_reason(addr)
        if reason is not None:
            raise EgressDenied(reason, str(addr), hostname=hostname)


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """A URL that passed ``check_url``.

    ``url`` is the parsed URL to pass to aiohttp (it may hold credentials, so
    it is left out of ``repr``); ``host`` is the lower-case ASCII host, or the
    canonical address text when the host is an IP literal; ``ip`` is that
    address, or ``None`` for names (vetted later by ``GuardedResolver``).
    """

    url: URL = field(repr=False)
    scheme: str
    host: str
    port: int
    ip: IPAddress | None


def parse_ip_host(host: str) -> IPAddress | None:
    """Return the address a URL host denotes if it is an IP literal, else ``None``.

    Accepts IPv6 (with or without brackets or zone id) and every IPv4 form
    ``inet_aton`` accepts (decimal ``2130706433``, hex ``0x7f000001``, octal
    ``0177.0.0.1``, short ``127.1``). IPv4-mapped IPv6 becomes IPv4. A host that
    looks numeric but is not a valid address raises ``EgressDenied`` rather than
    being handed to DNS.
    """
    text = host.strip("[]").rstrip(".").lower()
    if ":" in text:
        try:
            return canonical_ip(text)
        except ValueError:
            raise EgressDenied("malformed IPv6 address literal", host) from None
    if not LEGACY_IPV4.fullmatch(text):
        return None
    try:
        # The regex first: inet_aton ignores anything after whitespace.
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        raise EgressDenied("malformed numeric IPv4 address", host) from None


def _is_localhost_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


# What a host name may hold once yarl has IDNA-encoded and lower-cased it; "_" appears in
# internal names (containers, SRV-style labels) and resolvers accept it.
_NAME_CHARS = re.compile(r"[a-z0-9._-]+")


def _name_problem(host: str) -> str | None:
    """Why `host` (as yarl parsed it, not an IP literal) can never be a DNS name, or None."""
    if "%" in host:
        return f"the host {host!r} is percent-encoded; write the host name or address plainly"
    if not _NAME_CHARS.fullmatch(host):
        return f"the host {host!r} has characters a host name cannot contain"
    return None


def check_url(
    url: str | URL, policy: EgressPolicy, *, schemes: frozenset[str] = ALLOWED_SCHEMES
) -> ParsedTarget:
    """Vet a user-supplied URL before a request; raise ``EgressDenied`` if refused.

    The URL is parsed with yarl, the parser aiohttp itself uses, so the host
    checked here is the host aiohttp connects to. ``localhost`` and
    ``*.localhost`` are judged as 127.0.0.1 without DNS. Userinfo is allowed
    but never included in error messages. `schemes` are the schemes accepted (http and https
    unless the caller speaks another protocol, such as SMTP, through its own guarded socket).
    """
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (ValueError, TypeError) as exc:
        raise EgressDenied(f"invalid URL ({type(exc).__name__})") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in schemes:
        allowed = " or ".join(sorted(schemes))
        raise EgressDenied(f"URL scheme {scheme!r} is not allowed; use {allowed}")
    host = (parsed.raw_host or "").lower()
    if not host or parsed.port is None:
        raise EgressDenied("URL has no host")
    ip = parse_ip_host(host)
    if ip is not None:
        policy.check_ip(ip)
        host = str(ip)
    elif _is_localhost_name(host):
        reason = policy.denial_reason(ipaddress.IPv4Address("127.0.0.1"))
        if reason is not None:
            raise EgressDenied(reason, host)
    elif problem := _name_problem(host):
        # Such a name never resolves; refusing it spares a DNS lookup on every retry.
        raise EgressDenied(problem)
    return ParsedTarget(url=parsed, scheme=scheme, host=host, port=parsed.port, ip=ip)
