"""What a path names, asked without raising: a name too long for the OS, or one below a regular
file, is something to say in a message, not a crash (`Path.exists()` raises OSError on a name
too long)."""

from __future__ import annotations

import stat
from pathlib import Path

FILE, DIRECTORY, MISSING, OTHER, BELOW_A_FILE = "file", "directory", "missing", "other", "below a file"

_PHRASES = {
    FILE: "is a file",
    DIRECTORY: "is not a file (it is a directory)",
    MISSING: "does not exist",
    OTHER: "is not a file (a device, socket or pipe)",
    BELOW_A_FILE: "lies below a regular file",
}


def kind(path: Path) -> str:
    """FILE, DIRECTORY, MISSING, OTHER (a device, a socket, a pipe), BELOW_A_FILE, or
    'unusable (<the OS's reason>)'."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return MISSING
    except NotADirectoryError:
        return BELOW_A_FILE
    except OSError as err:  # a name too long, a loop of links, no permission to look
        return f"unusable ({err.strerror or err})"
    except ValueError as err:  # a NUL byte in the name
        return f"unusable ({err})"
    if stat.S_ISREG(mode):
        return FILE
    return DIRECTORY if stat.S_ISDIR(mode) else OTHER


def phrase(found: str) -> str:
    """How a message says what kind() found: 'does not exist', 'lies below a regular file', ..."""
    return _PHRASES.get(found, f"is {found}")
