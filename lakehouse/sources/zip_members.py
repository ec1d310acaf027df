"""Zip members as the importers (Strava archive, Google Takeout) read them: named with `/`, each name once.

PowerShell 5's Compress-Archive writes member names with `\\` (`export_1\\activities.csv`); a zip may also hold
two members of one name (zipfile allows it, and its own lookup by name reads the last). Both importers index the
central directory the same way and say the same thing about repeated names.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable


def member_name(name: str) -> str:
    """A member's name with `/` separators: `member_name("export_1\\\\activities.csv") == "export_1/activities.csv"`."""
    return name.replace("\\", "/")


def index_members(infos: Iterable[zipfile.ZipInfo]) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    """The files of a zip's central directory by `member_name` (folders left out), the last copy of a name held
    twice; and the names held more than once, in the order met."""
    by_name: dict[str, zipfile.ZipInfo] = {}
    repeated: list[str] = []
    for info in infos:
        name = member_name(info.filename)
        if name.endswith("/"):
            continue
        if name in by_name and name not in repeated:
            repeated.append(name)
        by_name[name] = info
    return by_name, repeated


def repeated_note(repeated: list[str]) -> str | None:
    """The import report's line about names held more than once (the first five named), or None."""
    if not repeated:
        return None
    shown = ", ".join(repeated[:5]) + (f" and {len(repeated) - 5} more" if len(repeated) > 5 else "")
    return f"{len(repeated)} name(s) more than once in the zip, each read once: {shown}"
