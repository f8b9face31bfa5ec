"""Downloading a weights file once, as a generator of progress (a bar in the CLI, the status
bar in the app) that can be cancelled, checked against the hash its name carries.

torchvision names its files ``<model>-<first hex digits of the SHA-256>.pth``; a download
whose hash does not start with those digits is refused. The file is written beside its place
and renamed into it only once complete and checked, so a cut or cancelled download leaves
nothing a later run would take for the weights.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from halgui.core.errors import HalguiError
from halgui.core.progress import CancelFlag, Progress

__all__ = ["DownloadConfig", "DownloadError", "download"]

_HASH = re.compile(r"-([a-f0-9]{6,})\.")


class DownloadError(HalguiError):
    """The file could not be fetched (offline, refused, cut short or damaged)."""


@dataclass(frozen=True)
class DownloadConfig:
    chunk_bytes: int = 1 << 20   # read and report in chunks of this many bytes
    timeout_s: float = 30.0      # give up on a connection that stays silent this long


def download(url: str, dest: Path, phase: str, cancel: CancelFlag | None = None,
             config: DownloadConfig | None = None) -> Generator[Progress, None, Path]:
    """Fetch ``url`` into ``dest`` unless it is there; yields ``phase`` progress in MiB.

    Raises :class:`DownloadError` with the reason (one line, the caller adds what to do) and
    leaves no partial file.
    """
    if dest.is_file():
        return dest
    config = config or DownloadConfig()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=config.timeout_s) as response, \
                open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            yield Progress(phase, 0, max(total >> 20, 1), dest.name)
            while chunk := response.read(config.chunk_bytes):
                if cancel is not None:
                    cancel.check()
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                yield Progress(phase, done >> 20, max(total >> 20, done >> 20, 1), dest.name)
        if total and done != total:
            raise DownloadError(f"the download stopped after {done} of {total} bytes")
        expected = _HASH.search(dest.name)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise DownloadError(f"the downloaded file is damaged (its SHA-256 does not start "
                                f"with {expected.group(1)})")
        os.replace(part, dest)
    except OSError as exc:  # urllib's URLError is one: offline, refused, timed out
        reason = str(getattr(exc, "reason", None) or exc.strerror or exc).splitlines()[0]
        raise DownloadError(reason) from None
    finally:
        part.unlink(missing_ok=True)
    return dest
