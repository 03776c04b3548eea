"""The download archive: every fetched publication, content-addressed by SHA-256.

Layout under the archive folder::

    sha256/<first two hex digits>/<sha256>/<published file name>
    sha256/<first two hex digits>/<sha256>/fetches.json   (URL, response headers, time of each fetch)

The file keeps its published name because the importers recognise the OFAC
CSV sets by name; the folder name is the SHA-256 of the bytes, so the same
publication fetched twice is stored once and any earlier publication can be
found, and re-imported, by its hash (``sanctions import SOURCE <sha256>``).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

HEX64 = re.compile(r"^[0-9a-f]{64}$")
SHA_PREFIX = re.compile(r"^[0-9a-f]{12,64}$")


class ArchiveError(Exception):
    """No (or no single) archived file for the given hash."""


def folder(archive_dir: str | Path, sha256: str) -> Path:
    return Path(archive_dir) / "sha256" / sha256[:2] / sha256


def _safe_name(name: str) -> str:
    name = os.path.basename(name) or "download"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def store(archive_dir: str | Path, temp_file: Path, sha256: str, name: str, fetch: dict[str, Any]) -> Path:
    """Move a downloaded temp file into the archive (or drop it if the bytes are there already).

    The move is a rename within the archive folder, so a file in the archive
    is always complete; ``fetch`` (url, headers, time) is appended to the
    folder's fetch log.
    """
    target_dir = folder(archive_dir, sha256)
    target_dir.mkdir(parents=True, exist_ok=True)
    existing = [p for p in target_dir.iterdir() if p.name != "fetches.json" and not p.name.startswith(".")]
    if existing:
        temp_file.unlink(missing_ok=True)
        path = existing[0]
    else:
        path = target_dir / _safe_name(name)
        os.replace(temp_file, path)
    log_path = target_dir / "fetches.json"
    fetches = json.loads(log_path.read_text(encoding="utf-8")) if log_path.exists() else []
    fetches.append({**fetch, "file": path.name, "sha256": sha256})
    temp_log = target_dir / ".fetches.json.tmp"
    temp_log.write_text(json.dumps(fetches, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(temp_log, log_path)
    return path


def looks_like_sha(location: str) -> bool:
    return bool(SHA_PREFIX.match(location.lower())) and not Path(location).exists()


def resolve(archive_dir: str | Path, sha: str) -> Path:
    """The archived file whose SHA-256 is (or starts with, 12+ digits) ``sha``."""
    sha = sha.lower()
    base = Path(archive_dir) / "sha256" / sha[:2]
    matches = sorted(base.glob(f"{sha}*")) if base.is_dir() else []
    if not matches:
        raise ArchiveError(f"no archived file with SHA-256 {sha} in {Path(archive_dir).resolve()}")
    if len(matches) > 1:
        raise ArchiveError(f"SHA-256 prefix {sha} is ambiguous: {len(matches)} archived files start with it")
    files = [p for p in matches[0].iterdir() if p.name != "fetches.json" and not p.name.startswith(".")]
    if not files:
        raise ArchiveError(f"{matches[0]}: the archive folder holds no file")
    return files[0]
