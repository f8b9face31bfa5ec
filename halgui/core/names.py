"""Names that enter the project (classes, videos) and the rule they follow.

Several export formats write one name per line (MOT's and YOLO's class lists) or use a name as a
file name, so a name with a control character (a newline, a tab, NUL) would silently shift every
class after it; a lone UTF-16 surrogate (from a file decoded leniently) cannot be stored as
UTF-8 at all. Such names are refused wherever they enter: the store, importers and dialogs.
"""

from __future__ import annotations

import unicodedata

from halgui.core.errors import HalguiError

_JOINERS = {"\u200c", "\u200d"}  # zero-width (non-)joiners are part of some scripts' names


class InvalidName(HalguiError, ValueError):
    """A class or video name that cannot be stored; the message says why. Callers that read a
    file re-raise it as a FormatError naming the file."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class or video name, or None when it can."""
    if not isinstance(name, str):
        return f"a name must be text, not {type(name).__name__}"
    if not name.strip():
        return "a name cannot be empty"
    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cs":  # half of a UTF-16 pair: no store can encode it as UTF-8
            return f"name {name!r} contains the unpaired surrogate {ch!r} (not UTF-8 text)"
        if category in ("Cc", "Cf", "Zl", "Zp") and ch not in _JOINERS:
            return f"name {name!r} contains the control character {ch!r}"
    return None


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can be a ``kind`` ("class" or "video") name; raise otherwise."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidName(f"{kind} {problem}")
    return name
