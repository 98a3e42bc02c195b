"""Jane Austen's six novels (public domain), read from the Debian package r-cran-janeaustenr.

    apt-get install r-cran-janeaustenr          # or, without R: apt-get download r-cran-janeaustenr
                                                #                 && dpkg -x r-cran-janeaustenr_*.deb DIR
    >>> novels = austen_novels()                # {"emma": "...", "persuasion": "...", ...}

The package keeps each novel as an R character vector (one element per line of the printed book) in an
R lazy-load database, ``data/Rdata.rdb``: a sequence of records, each a 4-byte big-endian length and a
zlib stream holding one object in R's XDR serialization. Only what these novels need is read here: the
header, then a character vector (STRSXP) of CHARSXP strings. Nothing is checked into the project; the
benchmarks that use these texts say so and stop when the package is missing.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

__all__ = ["AUSTEN_RDB", "austen_novels", "find_rdb"]

AUSTEN_RDB = "/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
# the order of the objects in Rdata.rdb (its index, Rdata.rdx, lists them by name in this order)
TITLES = ("emma", "mansfieldpark", "northangerabbey", "persuasion", "prideprejudice", "sensesensibility")
HEADINGS = ("EMMA", "MANSFIELD PARK", "NORTHANGER ABBEY", "Persuasion", "PRIDE AND PREJUDICE",
            "SENSE AND SENSIBILITY")  # how each novel's text begins: the order is checked, not assumed
_STRSXP, _CHARSXP = 16, 9


def find_rdb(path: str | os.PathLike | None = None) -> Path:
    """The Rdata.rdb to read: `path` (the file or any folder above it), $AUSTEN_RDB, or the installed one."""
    where = Path(path or os.environ.get("AUSTEN_RDB") or AUSTEN_RDB)
    if where.is_dir():
        found = sorted(where.rglob("janeaustenr/data/Rdata.rdb")) or sorted(where.rglob("Rdata.rdb"))
        if not found:
            raise FileNotFoundError(f"no janeaustenr/data/Rdata.rdb under {where}")
        where = found[0]
    if not where.is_file():
        raise FileNotFoundError(
            f"{where} not found: apt-get install r-cran-janeaustenr (or apt-get download it and dpkg -x "
            "it into a folder given as the path or as $AUSTEN_RDB)")
    return where


def _strings(blob: bytes) -> list[str]:
    """The character vector serialized in `blob` (R's XDR format, version 2 or 3)."""
    if blob[:2] != b"X\n":
        raise ValueError("not an R object in XDR format")
    pos = 2
    version = struct.unpack_from(">i", blob, pos)[0]
    pos += 12  # format version, the writer's R version, the oldest reader's
    if version == 3:
        pos += 4 + struct.unpack_from(">i", blob, pos)[0]  # the native encoding's name
    flags, n = struct.unpack_from(">ii", blob, pos)
    pos += 8
    if flags & 0xFF != _STRSXP:
        raise ValueError(f"expected a character vector (type {_STRSXP}), got type {flags & 0xFF}")
    out = []
    for _ in range(n):
        flags, length = struct.unpack_from(">ii", blob, pos)
        pos += 8
        if flags & 0xFF != _CHARSXP:
            raise ValueError(f"expected a string (type {_CHARSXP}), got type {flags & 0xFF}")
        if length < 0:  # NA
            out.append("")
            continue
        out.append(blob[pos:pos + length].decode("utf-8"))
        pos += length
    return out


def austen_novels(path: str | os.PathLike | None = None) -> dict[str, str]:
    """{title: text} for the six novels, each its lines joined with newlines."""
    data = find_rdb(path).read_bytes()
    texts, pos = [], 0
    while pos < len(data):
        stream = zlib.decompressobj()
        blob = stream.decompress(data[pos + 4:])
        pos = len(data) - len(stream.unused_data)
        texts.append("\n".join(_strings(blob)) + "\n")
    if len(texts) != len(TITLES):
        raise ValueError(f"expected {len(TITLES)} novels in the database, found {len(texts)}")
    for title, heading, text in zip(TITLES, HEADINGS, texts, strict=True):
        if not text.startswith(heading):
            raise ValueError(f"the novel stored as {title!r} begins {text[:40]!r}, not {heading!r}")
    return dict(zip(TITLES, texts, strict=True))


if __name__ == "__main__":
    for title, text in austen_novels().items():
        print(f"{title:18s} {len(text):>9,} characters  {text[:60]!r}")
