"""The tests' own signing helpers reproduce the published vectors (docs/platforms.md §1.3,
§2.3), so the fake is checked against known-good values rather than against itself."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from .helpers import dingtalk_sign, feishu_sign


def test_feishu_vectors() -> None:
    assert feishu_sign("xxx", 1661860880) == "QnWVTSBe6FmQDE0bG6X0mURbI+DnvVyu1h+j5dHOjrU="
    assert feishu_sign("demo", 1599360473) == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
    assert feishu_sign("SECtestsecret", 1700000000) == (
        "qctwDqaazOo8xxU2d5mAVhFAk6TEeaDHQUh0YMWFIL8="
    )


def test_dingtalk_vectors() -> None:
    raw = dingtalk_sign("SECtestsecret", 1700000000000)
    assert raw == "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s="
    assert quote_plus(raw) == "7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D"
    assert quote(quote_plus(raw), safe="") == (
        "7LVwF0dAF3%252F%252BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%253D"
    )
    secret = "SECb90923e19e58b466481e9e7b7a5b4f108a4531abde590ad3967fb29f0eae5c68"
    assert dingtalk_sign(secret, 1582163555000) == "BQKsG+QOCl+bYJOLc6pxDHxjVquzlZPWgvRzeN2J5zY="
