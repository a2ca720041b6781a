"""Delivery: fan-out, workers, retries, shared rate limits, digests, circuit breaking.

`worker` runs the loop (fan out → claim → send → record); `attempts` turns one claimed
delivery into an HTTP request through its channel's sender, judges the answer and lets
`domain.delivery.next_state` decide what next; `http_client` is the one egress-guarded aiohttp
session; `wecom_tokens` caches WeCom access tokens for every worker. The SQL (claims, results,
the delivery state machine) lives in `herald.store`.

May import `domain`, `store`, `runtime`, `security`, `channels`, `access`, `observability`
and `publishing`.
"""
