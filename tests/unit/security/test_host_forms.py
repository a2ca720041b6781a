"""Save-time host spelling (issue 9): one plain spelling per destination, or a message saying
what to write instead. The egress guard still reads every spelling as the connection would."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.security.host_forms import host_form_problem

PLAIN = [
    "https://open.feishu.cn/open-apis/bot/v2/hook/x",
    "https://CI.Example.com/hook",  # DNS ignores ASCII case
    "http://127.0.0.1:8080/hook",
    "http://8.8.8.8/",
    "http://[::1]:9/",
    "http://[::ffff:127.0.0.1]/",
    "http://[2606:4700:4700::1111]/",
    "https://user:pw@hooks.example.com/x",
    "http://herald_receiver.internal:8080/",
    "https://пример.рф/hook",  # already in IDNA normal form
    "https://xn--e1afmkfd.xn--p1ai/hook",
    "http://localhost:9/",  # a plain name: the guard judges it as loopback
]

ODD = [
    ("http://127%2E0%2E0%2E1/", "percent-encoded"),
    ("http://127%2e0%2e0%2e1:80/", "percent-encoded"),
    ("http://%31%32%37.0.0.1/", "percent-encoded"),
    ("http://exa%6Dple.com/", "percent-encoded"),
    ("http://[fe80::1%25eth0]/", "percent-encoded"),
    ("http://2130706433/", "write 127.0.0.1"),
    ("http://0x7f000001/", "write 127.0.0.1"),
    ("http://0x7f.1/", "write 127.0.0.1"),
    ("http://0177.0.0.1/", "write 127.0.0.1"),
    ("http://127.1/", "write 127.0.0.1"),
    ("http://127.0.1/", "write 127.0.0.1"),
    ("http://010.0.0.1/", "write 8.0.0.1"),  # octal: not the 10.0.0.1 a reader expects
    ("http://0x5db8d822/", "write 93.184.216.34"),  # public addresses too
    ("http://999.1.1.1/", "not a valid IPv4 address"),
    ("http://127.0.0.1./", "trailing dot"),
    ("http://example.com./", "trailing dot"),
    ("http://LOCALHOST./", "trailing dot"),
    ("http://１２７.０.０.１/", "unusual spelling of '127.0.0.1'"),
    ("http://127。0。0。1/", "unusual spelling of '127.0.0.1'"),
    ("http://ｌｏｃａｌｈｏｓｔ/", "unusual spelling of 'localhost'"),
    ("http://\u212aelvin.example/", "unusual spelling of 'kelvin.example'"),  # Kelvin sign
    ("http://ＥＸＡＭＰＬＥ.com/", "unusual spelling of 'example.com'"),
    ("http://foo.123/", "ends in a number"),
    ("http://1.2.3.4.5/", "ends in a number"),
    ("http://foo.0x10/", "ends in a number"),
    ("http://a..b/", "not a valid host name"),
    ("http://-a.example/", "not a valid host name"),
    ("http://ex!ample.com/", "not a valid host name"),
    (f"http://{'a' * 64}.example/", "not a valid host name"),
]


@pytest.mark.parametrize("url", PLAIN)
def test_plain_hosts_pass(url: str) -> None:
    assert host_form_problem(url) is None


@pytest.mark.parametrize(("url", "needle"), ODD)
def test_odd_spellings_are_refused_saying_what_to_write(url: str, needle: str) -> None:
    problem = host_form_problem(url)
    assert problem is not None and needle in problem, problem


def test_credentials_are_not_quoted() -> None:
    problem = host_form_problem("http://admin:hunter2@0x7f000001/")
    assert problem is not None and "hunter2" not in problem and "admin" not in problem


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_number_form_of_an_address_names_its_dotted_quad(value: int) -> None:
    addr = ipaddress.IPv4Address(value)
    assert host_form_problem(f"http://{addr}/") is None
    a, b, c, d = addr.packed
    for form in (str(value), hex(value), f"{a}.{(b << 16) | (c << 8) | d}", f"0{a:o}.{b}.{c}.{d}"):
        if form == str(addr):
            continue
        problem = host_form_problem(f"http://{form}/")
        assert problem is not None and f"write {addr}" in problem, (form, problem)
