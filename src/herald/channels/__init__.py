"""Channel senders: render an event for Feishu, DingTalk, WeCom or a custom endpoint, and judge
the platform's answer into an outcome. Senders do no I/O; the delivery engine sends what they
render. `registry` maps PRD channel types to senders, `configs` validates their settings.

Imports `herald.domain`, `herald.security.encryption` and `herald.security.signing` only.
"""
