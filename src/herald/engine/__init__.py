"""The release engine: task use cases (`releases`, `catalog`), the asyncio runner that drives
built-in executors batch by batch (`runner`), and the executors themselves (`executors`).

May import `domain`, `store`, `runtime`, `security`, `channels`, `access` and `publishing`.
"""
