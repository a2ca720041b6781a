"""Layout rules the import contracts cannot state: no name is used for two modules.

A module's name says what it holds, so `history.py` or `tokens.py` may exist once in
`src/herald`, whatever package it sits in. Names Python itself gives a meaning to (`__init__`,
`__main__`) are not chosen, so they do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePath, PurePosixPath

import herald

SOURCE = Path(herald.__file__).parent
PYTHON_NAMES = {"__init__", "__main__"}


def shared_names(paths: Iterable[PurePath]) -> dict[str, list[str]]:
    """Each module name used by more than one of `paths` (relative to the source root), with
    the paths that use it, sorted."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        if path.suffix == ".py" and path.stem not in PYTHON_NAMES:
            by_name[path.stem].append(path.as_posix())
    return {name: sorted(found) for name, found in sorted(by_name.items()) if len(found) > 1}


def test_no_two_modules_under_src_herald_share_a_name() -> None:
    modules = [path.relative_to(SOURCE) for path in SOURCE.rglob("*.py")]
    assert len(modules) > 100  # the whole tree was walked
    assert shared_names(modules) == {}, "rename one module of each pair (docs/contributing.md)"


def test_the_check_names_every_module_sharing_a_name() -> None:
    paths = [
        PurePosixPath(p)
        for p in (
            "access/tokens.py",
            "delivery/tokens.py",
            "store/tokens.py",
            "history/reads.py",
            "api/__init__.py",
            "web/__init__.py",
            "__main__.py",
            "cli/__main__.py",
            "web/assets/app.js",
            "web/assets/reads.js",
        )
    ]
    assert shared_names(paths) == {
        "tokens": ["access/tokens.py", "delivery/tokens.py", "store/tokens.py"]
    }
