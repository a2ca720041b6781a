"""Address and URL verdicts of the SSRF guard (delivery.md §4 vectors)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from herald.security.egress import EgressDenied, EgressPolicy, check_url, parse_ip_host
from herald.security.guarded_http import EgressDeniedOSError, describe_denial

DENY_ALL = EgressPolicy()

DENIED_URLS = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost:8080/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials",
    "http://100.100.100.200/latest/meta-data/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://[64:ff9b::a00:1]/",
    "http://[2002:a00:1::1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1%25eth0]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://255.255.255.255/",
    "http://127.0.0.1./",
    "http://999.1.1.1/",
    "https://user:hunter2@127.0.0.1/",
]

ALLOWED_URLS = [
    "http://100.63.255.254/",
    "http://100.128.0.1/",
    "http://[64:ff9b::808:808]/",
    "https://8.8.8.8/",
    "https://[2606:4700:4700::1111]/",
    "https://example.com/hook",
    "https://user:pw@example.com/hook",
    "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
]

DENIED_IPS = [
    ("127.0.0.1", "loopback address"),
    ("::1", "loopback address"),
    ("::ffff:127.0.0.1", "loopback address"),
    ("169.254.169.254", "cloud metadata address"),
    ("fd00:ec2::254", "cloud metadata address"),
    ("100.100.100.200", "cloud metadata address"),
    ("169.254.170.2", "cloud metadata address"),
    ("169.254.1.1", "link-local address"),
    ("fe80::1", "link-local address"),
    ("10.0.0.1", "private address"),
    ("fd12:3456::1", "unique local (private) address"),
    ("100.64.0.1", "carrier-grade NAT address"),
    ("224.0.0.1", "multicast address"),
    ("ff02::1", "multicast address"),
    ("0.0.0.0", "unspecified address"),  # noqa: S104 - an address under test, not a bind
    ("::", "unspecified address"),
    ("0.1.2.3", "'this network' address"),
    ("255.255.255.255", "broadcast address"),
    ("240.0.0.1", "reserved address"),
    ("192.0.2.1", "documentation address"),
    ("2001:db8::1", "documentation address"),
    ("198.18.0.1", "benchmarking address"),
    ("::7f00:1", "deprecated IPv4-compatible IPv6 address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel address"),
    ("64:ff9b:1::a00:1", "local-use NAT64 address"),
    ("64:ff9b::a00:1", "NAT64 address embedding 10.0.0.1: private address"),
    ("2002:a00:1::1", "6to4 address embedding 10.0.0.1: private address"),
    ("2002:7f00:1::1", "6to4 address embedding 127.0.0.1: loopback address"),
    ("4000::1", "reserved address"),
]

# Written out independently of herald.security.egress so the property test is not a tautology.
DENIED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "2001:db8::/32",
        "2001::/32",
        "fec0::/10",
    )
]


@pytest.mark.parametrize("url", DENIED_URLS)
def test_check_url_denies(url: str) -> None:
    with pytest.raises(EgressDenied):
        check_url(url, DENY_ALL)


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_check_url_allows(url: str) -> None:
    check_url(url, DENY_ALL)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://h/"])
def test_check_url_denies_other_schemes(url: str) -> None:
    with pytest.raises(EgressDenied, match="scheme"):
        check_url(url, DENY_ALL)


@pytest.mark.parametrize("url", ["http:///path", "/relative", "", "http://:80/"])
def test_check_url_denies_missing_host(url: str) -> None:
    with pytest.raises(EgressDenied):
        check_url(url, DENY_ALL)


# Hosts that can never be a DNS name (issue 9): refused at every request without a DNS lookup,
# also when a config saved before the save-time rule holds one. IDNA look-alikes are folded by
# yarl to the address they stand for, and that address is judged.
NEVER_NAMES = [
    "http://127%2E0%2E0%2E1/",
    "http://127%2e0%2e0%2e1:8080/hook",
    "http://%31%32%37.0.0.1/",
    "http://exa%6dple.com/",
    "http://ex!ample.com/",
    "http://ex$ample.com/",
]
LOOK_ALIKES = ["http://１２７.０.０.１/", "http://127。0。0。1/", "http://ｌｏｃａｌｈｏｓｔ/"]


@pytest.mark.parametrize("url", NEVER_NAMES)
def test_hosts_that_are_no_name_are_refused_without_dns(url: str) -> None:
    with pytest.raises(EgressDenied, match=r"percent-encoded|characters a host name") as info:
        check_url(url, EgressPolicy(["0.0.0.0/0"]))
    assert info.value.address is None  # not an address the allow list could open


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_idna_look_alikes_are_judged_as_the_address_they_become(url: str) -> None:
    with pytest.raises(EgressDenied, match="loopback"):
        check_url(url, DENY_ALL)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("::ffff:7f00:1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("example.com", None),
        ("0x7f000001.example.com", None),
    ],
)
def test_parse_ip_host_canonicalises_legacy_forms(host: str, expected: str | None) -> None:
    ip = parse_ip_host(host)
    assert (None if ip is None else str(ip)) == expected


def test_parsed_target_holds_canonical_host_and_hides_credentials() -> None:
    target = check_url("http://user:secret@[::ffff:8.8.8.8]:8080/x", DENY_ALL)
    assert (target.scheme, target.host, target.port) == ("http", "8.8.8.8", 8080)
    assert target.ip == ipaddress.ip_address("8.8.8.8")
    assert "secret" not in repr(target)


def test_denial_message_names_address_and_setting_but_not_password() -> None:
    with pytest.raises(EgressDenied) as info:
        check_url("http://admin:hunter2@2130706433/", DENY_ALL)
    message = str(info.value)
    assert message.startswith("refused to connect to 127.0.0.1 (loopback address)")
    assert "HERALD_EGRESS_ALLOW" in message
    assert "hunter2" not in message
    assert info.value.reason == "loopback address"


def test_localhost_message_names_the_host() -> None:
    with pytest.raises(EgressDenied, match=r"refused to connect to localhost \(loopback"):
        check_url("http://localhost:8080/", DENY_ALL)


@pytest.mark.parametrize(("ip", "reason"), DENIED_IPS)
def test_check_ip_denies_with_reason(ip: str, reason: str) -> None:
    with pytest.raises(EgressDenied) as info:
        DENY_ALL.check_ip(ip)
    assert info.value.reason == reason


@pytest.mark.parametrize("ip", ["not-an-ip", "", "1.2.3.4.5"])
def test_check_ip_fails_closed_on_garbage(ip: str) -> None:
    with pytest.raises(EgressDenied, match="not a valid IP address"):
        DENY_ALL.check_ip(ip)


def test_allow_list_opens_exactly_its_ranges() -> None:
    policy = EgressPolicy(allow=["127.0.0.1/32", "10.1.0.0/16"])
    policy.check_ip("127.0.0.1")
    policy.check_ip("::ffff:127.0.0.1")
    policy.check_ip("10.1.200.3")
    for denied in ("127.0.0.2", "10.2.0.1", "::1"):
        with pytest.raises(EgressDenied):
            policy.check_ip(denied)


def test_allow_setting_string_is_split_on_commas() -> None:
    policy = EgressPolicy(" 127.0.0.1/32, 10.1.0.0/16 ,")
    assert [str(n) for n in policy.allow] == ["127.0.0.1/32", "10.1.0.0/16"]


def test_mapped_allow_entry_is_canonicalised() -> None:
    policy = EgressPolicy(allow=["::ffff:127.0.0.0/104"])
    assert [str(n) for n in policy.allow] == ["127.0.0.0/8"]
    policy.check_ip("127.5.5.5")


def test_nat64_inherits_the_allow_list_of_its_embedded_address() -> None:
    EgressPolicy(allow=["10.0.0.0/8"]).check_ip("64:ff9b::a00:1")


@pytest.mark.parametrize("entry", ["10.1.2.3/16", "bogus", "10.0.0.0/33"])
def test_invalid_allow_entry_is_rejected(entry: str) -> None:
    with pytest.raises(ValueError, match="HERALD_EGRESS_ALLOW"):
        EgressPolicy(allow=[entry])


@st.composite
def address_in_denied_network(draw: st.DrawFn) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    network = draw(st.sampled_from(DENIED_NETWORKS))
    offset = draw(st.integers(min_value=0, max_value=network.num_addresses - 1))
    return network[offset]


@given(
    addr=address_in_denied_network(),
    allow_seed=st.integers(min_value=0, max_value=2**128 - 1),
    allow_prefix=st.integers(min_value=0, max_value=128),
    use_allow=st.booleans(),
)
def test_denied_unless_inside_an_allow_cidr(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
    allow_seed: int,
    allow_prefix: int,
    use_allow: bool,
) -> None:
    bits = addr.max_prefixlen
    base_type = ipaddress.IPv4Address if bits == 32 else ipaddress.IPv6Address
    base = base_type(allow_seed % 2**bits)
    allow = ipaddress.ip_network(f"{base}/{allow_prefix % (bits + 1)}", strict=False)
    assume(not str(allow).startswith("::ffff:"))
    policy = EgressPolicy(allow=[str(allow)] if use_allow else [])
    expected_allowed = use_allow and addr in allow
    assert (policy.denial_reason(addr) is None) == expected_allowed


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_mapped_form_has_the_same_verdict_as_ipv4(value: int) -> None:
    v4 = ipaddress.IPv4Address(value)
    mapped = ipaddress.IPv6Address(f"::ffff:{v4}")
    assert DENY_ALL.denial_reason(mapped) == DENY_ALL.denial_reason(v4)


@given(
    first=st.integers(min_value=1, max_value=223),
    rest=st.integers(min_value=0, max_value=2**24 - 1),
)
def test_public_ipv4_is_allowed_and_nat64_inherits(first: int, rest: int) -> None:
    v4 = ipaddress.IPv4Address((first << 24) | rest)
    assume(not any(v4 in net for net in DENIED_NETWORKS if net.version == 4))
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | int(v4))
    assert DENY_ALL.denial_reason(v4) is None
    assert DENY_ALL.denial_reason(nat64) is None


def test_describe_denial_walks_chains_and_groups() -> None:
    denial = EgressDenied("loopback address", "127.0.0.1")
    wrapped = EgressDeniedOSError(denial)
    wrapped.__cause__ = denial
    outer = RuntimeError("delivery failed")
    outer.__cause__ = wrapped
    assert describe_denial(outer) == str(denial)
    assert describe_denial(ExceptionGroup("many", [ValueError(), outer])) == str(denial)
    assert describe_denial(denial) == str(denial)


def test_describe_denial_returns_none_without_denial() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert describe_denial(first) is None
