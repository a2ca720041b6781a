"""Who may do what: roles, API tokens and the audit log.

May import `domain`, `runtime` and `store`.
"""
