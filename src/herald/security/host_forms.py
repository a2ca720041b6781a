"""How a URL's host must be written when a config is saved: one plain spelling per destination.

The egress guard (`herald.security.egress`) reads every spelling of an address the way the connection
will, so odd spellings are not a way around it; but they hide what a URL points at from the
people reading the config, may be read differently by other tools, and some of them are never
resolvable (Herald would look them up on every retry). So a saved URL's host must be a plain
name, a dotted-quad IPv4 address or a bracketed IPv6 address. Stored configs saved before this
rule are still loaded and still vetted by the guard at every request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from yarl import URL

from herald.security.egress import LEGACY_IPV4

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
MAX_HOST = 253


def host_form_problem(url: str) -> str | None:
    """Why the host of `url` is not written in its one plain form, or None.

    Refused, each with what to write instead: percent-encoding (``127%2E0%2E0%2E1``, ``%31``),
    a trailing dot, Unicode that IDNA maps to another name (fullwidth ``１２７.０.０.１`` or
    ``ｌｏｃａｌｈｏｓｔ``, ideographic full stops), IPv4 written other than as four decimal
    numbers (``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``), names ending in a
    number, and labels that are empty, too long or hold other characters. Upper-case ASCII is
    fine (DNS ignores case). URLs that do not parse answer None: the URL check reports them.
    """
    written = _written_host(url)
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return None
    host = (parsed.raw_host or "").lower()
    if not written or not host:
        return None
    if "%" in written:
        return f"the host {written!r} is percent-encoded; write the host name or address plainly"
    if written.startswith("["):
        return None  # IPv6: ipaddress reads a literal one way only (zone ids were the % above)
    if written.endswith("."):
        return f"the host {written!r} ends with a dot; write it without the trailing dot"
    if not written.isascii() and parsed.host != _ascii_lower(written):
        return f"the host {written!r} is an unusual spelling of {parsed.host!r}; write that"
    if LEGACY_IPV4.fullmatch(host):  # the forms inet_aton reads as an IPv4 address
        return _ipv4_problem(written, host)
    return _label_problem(written, host)


def _ipv4_problem(written: str, host: str) -> str | None:
    try:
        addr = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return f"the host {written!r} is not a valid IPv4 address"
    if host != str(addr):
        return (
            f"the host {written!r} is an unusual way to write the IPv4 address {addr}; write {addr}"
        )
    return None


def _label_problem(written: str, host: str) -> str | None:
    labels = host.split(".")
    if len(host) > MAX_HOST or not all(_LABEL.fullmatch(label) for label in labels):
        return (
            f"the host {written!r} is not a valid host name (labels of letters, digits and "
            "hyphens, separated by single dots)"
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return f"the host {written!r} ends in a number, so it is neither a name nor an address"
    return None


def _written_host(url: str) -> str | None:
    """The host exactly as written in `url` (brackets kept for IPv6), or None."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[: hostport.find("]") + 1] or None
    return hostport.partition(":")[0] or None


def _ascii_lower(text: str) -> str:
    # str.lower() would also fold look-alikes such as the Kelvin sign into "k".
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)
