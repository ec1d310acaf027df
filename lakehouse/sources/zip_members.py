"""Zip members as the importers (Strava archive, Google Takeout) read them: named with `/`, each name once.

PowerShell 5's Compress-Archive writes member names with `\\` (`export_1\\activities.csv`); a zip may also hold
two members of one name (zipfile allows it, and its own lookup by name reads the last). Both importers index the
central directory the same way and say the same thing about repeated names. In an unpacked export (a folder) both
read a file only inside the folder: a name or a symbolic link leading out of it is refused (`folder_file`); both
list the folder alike (`folder_members`): a symbolic link to a folder inside it is followed, one out of it refused,
a file reached under two names (one a symbolic link to the other) listed once, and whatever is not listed is named
with the reason.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

LOOP_REASON = "a symbolic link in a loop of links, leading to nothing"


class RefusedMemberError(ValueError):
    """A file an export names outside itself (`../../x.gpx`, `/home/x.gpx`, a symbolic link out of the folder)."""


class LinkLoopError(OSError):
    """A name in an unpacked export reached through a loop of symbolic links (`ring -> ring`): it leads to nothing.

    An `OSError` (the system's ELOOP), so a reader that passes over unreadable files passes over this one too."""

    def __init__(self) -> None:
        super().__init__(LOOP_REASON)


def real_path(path: Path) -> Path | None:
    """`path` with every symbolic link followed, or None when a loop of links stands in its way.

    `Path.resolve` raises on a loop (RuntimeError in Python 3.11, OSError in later versions) and gives the path it
    reached for a link to nothing."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return None


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


def missing_reason(path: Path) -> str:
    """Why an export the user named cannot be opened, when neither a file nor a folder is there: a symbolic link in
    a loop, one to nothing (named with its target), or nothing at all."""
    if not path.is_symlink():
        return "no such file or folder"
    if real_path(path) is None:
        return f"{LOOP_REASON}: not read"
    return f"a symbolic link to {path.readlink()}, which does not exist"


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
    `RefusedMemberError` when the name (`outside_reason`) or a symbolic link on its way leads out of `folder`,
    `LinkLoopError` when a loop of links stands in its way. `folder` may itself be a symbolic link (the user named
    it): the folder it leads to is the export."""
    reason = outside_reason(name)
    if reason is not None:
        raise RefusedMemberError(reason)
    base = folder.resolve()
    target = real_path(base / name)
    if target is None:
        raise LinkLoopError
    if not target.is_relative_to(base):
        raise RefusedMemberError(f"a symbolic link to {target}, outside the export folder")
    return target


@dataclass(frozen=True)
class Unlisted:
    """Something in an unpacked export that `folder_members` does not list as a file: its name (`/`) and why;
    `refused` for a symbolic link leading out of the export folder (nothing behind it is read)."""

    name: str
    reason: str
    refused: bool = False


def folder_members(folder: Path, under: str = "", prefer: tuple[str, ...] = ()) -> tuple[list[str], list[Unlisted]]:
    """The files in `folder / under` by member name (relative to `folder`, `/` separators), and what is not listed,
    each sorted by name: `folder_members(Path("export_1"), "activities")`.

    `Path.rglob` passes over a symbolic link to a folder without a word. Here one that stays inside `folder` is
    followed, its files listed under the link's name; each real folder is listed once, under the first name met in
    name order, so a second name for it, or a link back to a folder holding it (a loop), is named and not followed.
    Names under (or on the way to) a folder in `prefer` (`"Takeout/Fitbit/"`) are met first: a folder or file the
    importer reads there through a link keeps that name, also when its real name elsewhere in the export sorts
    before it (the importer would pass over the real name).
    A link to a folder out of `folder` is refused, and so is a link out to nothing; a link to nothing inside, a loop
    of links, something neither a file nor a folder (a FIFO) and a folder that cannot be listed are named. A link
    to a file is listed (`folder_file` judges it when it is read), unless the file it leads to is listed already:
    each real file inside `folder` is listed once (`_one_name_per_file`), so an importer reads its data once.
    `folder` may itself be a symbolic link: the folder it leads to is the export.
    """
    preferred = _preferred(prefer)
    base = folder.resolve()
    found: list[_Found] = []
    unlisted: list[Unlisted] = []
    start = "/".join(part for part in under.split("/") if part)
    top = folder / start if start else folder
    if start and not (top.exists() or top.is_symlink()):
        return [], []
    if start and not _sort_out(start, top, base, found, unlisted):
        return [], unlisted
    seen: dict[Path, str] = {base: ""} if start else {}  # real folder -> the name it is listed under
    stack = [(start, top)]
    while stack:
        name, path = stack.pop()
        real = path.resolve()
        reason = _not_walked(name, real, base, seen)
        if reason is not None:
            unlisted.append(Unlisted(name, reason, refused=not real.is_relative_to(base)))
            continue
        seen[real] = name
        try:
            entries = sorted(os.listdir(real))
        except OSError as exc:
            unlisted.append(Unlisted(name, f"a folder that cannot be listed ({exc.strerror}): nothing in it is read"))
            continue
        folders = []
        for entry in entries:
            entry_name = f"{name}/{entry}" if name else entry
            if _sort_out(entry_name, real / entry, base, found, unlisted):
                folders.append((entry_name, real / entry))
        folders.sort(key=lambda entry: (not preferred(entry[0]), entry[0]))
        stack.extend(reversed(folders))  # popped in that order: the preferred first, each in name order
    return _one_name_per_file(found, base, unlisted, preferred)


@dataclass(frozen=True)
class _Found:
    """A file `folder_members` met: its member name, the real file it leads to, and whether the name is a link."""

    name: str
    real: Path
    link: bool


def _preferred(prefer: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a member name is under, or on the way to, one of the folders in `prefer` (each ending in `/`)."""

    def preferred(name: str) -> bool:
        return any(folder.startswith(f"{name}/") or f"{name}/".startswith(folder) for folder in prefer)

    return preferred


def _one_name_per_file(
    found: list[_Found], base: Path, unlisted: list[Unlisted], preferred: Callable[[str], bool]
) -> tuple[list[str], list[Unlisted]]:
    """The names to list, one per real file inside `base`, and `unlisted` with each second name, both sorted by name.

    A name `preferred` says the importer reads comes first; then a file's own name (no link on its last step); then
    the first link name in name order. A link out of `base` is always listed: `folder_file` refuses it when read."""
    kept: dict[Path, str] = {}
    for entry in sorted(found, key=lambda entry: (not preferred(entry.name), entry.link, entry.name)):
        if entry.real.is_relative_to(base):
            kept.setdefault(entry.real, entry.name)
    names: list[str] = []
    for entry in sorted(found, key=lambda entry: entry.name):
        first = kept[entry.real] if entry.real.is_relative_to(base) else entry.name
        if first == entry.name:
            names.append(entry.name)
        else:
            what = "a symbolic link to the same file as" if entry.link else "the file a symbolic link leads to:"
            unlisted.append(Unlisted(entry.name, f"{what} {first}: listed once, as {first}"))
    return names, sorted(unlisted, key=lambda entry: entry.name)


def _not_walked(name: str, real: Path, base: Path, seen: dict[Path, str]) -> str | None:
    """Why the folder `name` (at `real`) is not walked, or None: it leads out of `base`, or was listed already."""
    if not real.is_relative_to(base):
        return f"refused: a symbolic link to {real}, outside the export folder; nothing in it is read"
    if real not in seen:
        return None
    first = seen[real]
    if not first or name.startswith(first + "/"):
        holding = f"{first}/" if first else "the export folder"
        return f"a symbolic link to {holding}, a folder holding it (a loop): not followed"
    return f"the same folder as {first}/ (one is a symbolic link to the other): listed once, as {first}/"


def _sort_out(name: str, path: Path, base: Path, found: list[_Found], unlisted: list[Unlisted]) -> bool:
    """Put `name` in `found`, or in `unlisted` with the reason; True when it is a folder (or a link to one) to walk."""
    if not path.is_symlink():
        if path.is_dir():
            return True
        if path.is_file():
            found.append(_Found(name, path, link=False))  # `path` is real: its folder was resolved
        else:
            unlisted.append(Unlisted(name, "neither a file nor a folder (a FIFO, socket or device): not read"))
        return False
    target = real_path(path)
    if target is None:
        unlisted.append(Unlisted(name, f"{LOOP_REASON}: not read"))
        return False
    if target.is_dir():
        return True
    if target.is_file():
        found.append(_Found(name, target, link=True))  # `folder_file` refuses it when it is read, if it leads out
    elif not target.is_relative_to(base):
        unlisted.append(Unlisted(name, f"refused: a symbolic link to {target}, outside the export folder", True))
    elif not target.exists():
        shown = target.relative_to(base).as_posix()
        unlisted.append(Unlisted(name, f"a symbolic link to {shown}, which does not exist: nothing to read"))
    else:
        unlisted.append(Unlisted(name, "a symbolic link to neither a file nor a folder (a FIFO, ...): not read"))
    return False
