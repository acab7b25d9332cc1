"""Local files that hold patients' data or secrets, readable by the service's own user only.

The embedded default keeps the SQLite database (names, phones, encrypted answers), the SQL
broker and generated keys in the instance folder. On a shared machine a umask of 022 would make
them world-readable; the folder is made 0700 and each file 0600 instead.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions: the write-ahead log and its index hold recent rows too.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_directory(path: Path, narrow: bool = True) -> None:
    """Create `path` (and parents) as 0700; with `narrow`, an existing folder of ours too.

    A folder owned by someone else, or shared by design (sticky or world-writable, like /tmp),
    is left as it is: narrowing it is not ours to do, even when running as root. Only the
    instance folder is narrowed: a database file named elsewhere may sit in a shared folder.
    """
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    info = path.stat()
    shared = info.st_mode & (stat.S_ISVTX | stat.S_IWOTH)
    ours = info.st_uid == os.getuid()
    if narrow and ours and not shared and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty as 0600 if missing; narrow an existing file of ours to 0600."""
    private_directory(path.parent, narrow=False)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        info = path.stat()
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(FILE_MODE)
    else:
        os.close(descriptor)


def private_sqlite_database(path: Path) -> None:
    """The database file and its journal files, 0600 in a 0700 folder.

    SQLite creates -wal and -shm with the main file's permissions, so a 0600 main file made
    before SQLite opens it keeps them private too; existing ones are narrowed.
    """
    private_file(path)
    for suffix in SQLITE_SUFFIXES[1:]:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            private_file(companion)
