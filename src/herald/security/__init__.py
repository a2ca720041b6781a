"""Secrets and trust: encryption at rest and key rotation, redaction, the egress
(SSRF) policy and the guarded HTTP session, webhook signing and verification.

May import `domain`, `runtime` and `store`.
"""
