"""Channel senders: render an event for Feishu, DingTalk, WeCom or a custom endpoint, and
judge the platform's answer. Senders do no I/O; the delivery engine sends what they render.

May import `herald.domain`, `herald.crypto` and `herald.signing`, nothing that does I/O.
"""
