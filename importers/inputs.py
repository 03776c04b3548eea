"""Reading a LOCATION (file, directory or URL) into the bytes of one publication.

The bytes are read once: the importer parses them and the store hashes them
(an identical publication is recognised by its SHA-256 and short-circuits).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from importers.common import ImportFailure

# The OFAC CSV editions are sets of files; the main file's siblings travel with it.
OFAC_CSV_SETS = (
    ("sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv"),
    ("cons_prim.csv", "cons_add.csv", "cons_alt.csv", "cons_comments.csv"),
)


@dataclass
class SourceFiles:
    """The files of one publication, by base name, with their bytes."""

    location: str
    paths: dict[str, str] = field(default_factory=dict)
    contents: dict[str, bytes] = field(default_factory=dict)

    def add(self, path: Path) -> None:
        try:
            self.contents[path.name] = path.read_bytes()
        except OSError as exc:
            raise ImportFailure(str(path), f"cannot read the file: {exc.strerror}") from None
        self.paths[path.name] = str(path)

    def get(self, name: str) -> tuple[str, bytes | None]:
        return self.paths.get(name, name), self.contents.get(name)

    def single(self) -> tuple[str, bytes]:
        """The one file of a single-file publication."""
        (name, data), = self.contents.items()
        return self.paths[name], data

    @property
    def size(self) -> int:
        return sum(len(b) for b in self.contents.values())

    def file_hashes(self) -> dict[str, str]:
        """Each file's own SHA-256, as ``sha256sum`` prints it, by file name."""
        return {name: hashlib.sha256(self.contents[name]).hexdigest() for name in sorted(self.contents)}

    def sha256(self) -> str:
        """The publication's SHA-256: the file's own for one file, so an officer can check it with
        ``sha256sum``; for a set (OFAC CSV), the SHA-256 of the set's ``sha256sum`` listing in name
        order (``sha256sum add.csv alt.csv sdn.csv sdn_comments.csv | sha256sum``).
        """
        hashes = self.file_hashes()
        if len(hashes) == 1:
            return next(iter(hashes.values()))
        listing = "".join(f"{digest}  {name}\n" for name, digest in hashes.items())
        return hashlib.sha256(listing.encode()).hexdigest()


def open_location(location: str, source: str | None = None) -> SourceFiles:
    """Read a file, an OFAC CSV directory or an http(s) URL."""
    if urllib.parse.urlparse(location).scheme in ("http", "https"):
        return _download(location)
    path = Path(location)
    files = SourceFiles(location=str(path))
    if path.is_dir():
        for names in _ofac_sets_for(source):
            if (path / names[0]).exists():
                for name in names:
                    if (path / name).exists():
                        files.add(path / name)
                return files
        raise ImportFailure(str(path), "the directory holds no OFAC CSV set (sdn.csv or cons_prim.csv); "
                            "other publishers' lists are imported file by file")
    if not path.exists():
        raise ImportFailure(str(path), "no such file or directory")
    files.add(path)
    for names in OFAC_CSV_SETS:
        if path.name.lower() == names[0]:
            for name in names[1:]:
                if (path.parent / name).exists():
                    files.add(path.parent / name)
    return files


def _ofac_sets_for(source: str | None):
    if source == "us-cons":
        return OFAC_CSV_SETS[1:]
    if source == "us-sdn":
        return OFAC_CSV_SETS[:1]
    return OFAC_CSV_SETS


def _download(url: str) -> SourceFiles:
    name = os.path.basename(urllib.parse.urlparse(url).path) or "download"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as exc:
        raise ImportFailure(url, f"download failed: {exc}") from None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        files = SourceFiles(location=url)
        files.add(path)
    files.paths[name] = url
    return files
