"""Zip members as the importers (Strava archive, Google Takeout) read them: named with `/`, each name once.

PowerShell 5's Compress-Archive writes member names with `\\` (`export_1\\activities.csv`); a zip may also hold
two members of one name (zipfile allows it, and its own lookup by name reads the last). Both importers index the
central directory the same way and say the same thing about repeated names. In an unpacked export (a folder) both
read a file only inside the folder: a name or a symbolic link leading out of it is refused (`folder_file`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath


class RefusedMemberError(ValueError):
    """A file an export names outside itself (`../../x.gpx`, `/home/x.gpx`, a symbolic link out of the folder)."""


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


def outside_reason(name: str) -> str | None:
    """Why a member name (`/` separators) may lead out of the archive, or None: `outside_reason("a/1.gpx") is None`,
    `outside_reason("../1.gpx")` names the `..`. Asked of a zip and a folder alike: both import an archive alike."""
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
        return "an absolute path, outside the archive"
    if ".." in PurePosixPath(name).parts:
        return "a path with '..', which may lead out of the archive"
    return None


def folder_file(folder: Path, name: str) -> Path:
    """The file a member name stands for in an unpacked export: `folder_file(Path("export_1"), "activities/1.gpx")`;
    `RefusedMemberError` when the name (`outside_reason`) or a symbolic link on its way leads out of `folder`."""
    reason = outside_reason(name)
    if reason is not None:
        raise RefusedMemberError(reason)
    base = folder.resolve()
    target = (base / name).resolve()
    if not target.is_relative_to(base):
        raise RefusedMemberError(f"a symbolic link to {target}, outside the export folder")
    return target
