"""Delivery: fan-out, workers, retries, shared rate limits, digests, circuit breaking.

`worker` runs the loop (fan out → claim → send → record); `attempt` turns one claimed delivery
into an HTTP request through its channel's sender and judges the answer; `http` is the one
egress-guarded aiohttp session; `tokens` caches WeCom access tokens for every worker.
"""
