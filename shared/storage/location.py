"""Where a zone lives, as the operator names it: a local path or ``s3://bucket/prefix``.

``BASE_DIR``, ``--raw-dir``, ``--stg-dir`` and ``--quarantine-dir`` take either.
A local path stays a ``Path``; an object-store URL becomes an ``ObjectLocation``.
Anything that looks like a URL but is not a well-formed ``s3://`` one is refused
(``gs://``, ``az://``, ``http://``, and typos such as ``s3:/bucket`` or ``s3:bucket``,
which would otherwise silently become a local folder named ``s3:``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError
from shared.settings import Invalid, Kind

S3_SCHEME = "s3"
SUPPORTED = (
    "supported: a local path or s3://bucket/prefix "
    "(any S3-compatible store; AWS_ENDPOINT_URL names one that is not AWS)"
)

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):(.*)", re.DOTALL)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SEGMENT = re.compile(r"[A-Za-z0-9!_.*'()=+,;@ -]+")
"""A prefix segment: the characters S3 calls safe in a key (no '%', '?', '#', '\\', control characters)."""


@dataclass(frozen=True)
class ObjectLocation:
    """A bucket and a key prefix (no leading or trailing '/'; empty for the bucket's top)."""

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"{S3_SCHEME}://{self.bucket}/{self.prefix}".rstrip("/")

    def join(self, *parts: str) -> ObjectLocation:
        """The location ``parts`` below this one."""
        return ObjectLocation(self.bucket, "/".join(p for p in (self.prefix, *parts) if p))

    def key(self, name: str) -> str:
        """The object key of ``name`` below this location."""
        return f"{self.prefix}/{name}" if self.prefix else name


Location = Path | ObjectLocation
"""Where a zone is: a local path or an object-store prefix."""


def parse_location(text: str) -> Location:
    """``text`` as a location; ``Invalid`` (the phrase after the setting's name) when it is no supported one."""
    match = _SCHEME.fullmatch(text)
    if match is None:
        return Path(text)
    scheme, rest = match.group(1), match.group(2)
    if scheme.lower() != S3_SCHEME:
        raise Invalid(f"uses the {scheme}: scheme; {SUPPORTED} (write ./name for a local folder whose name holds ':')")
    if not rest.startswith("//"):
        raise Invalid(f"is not a well-formed s3:// URL; {SUPPORTED}")
    bucket, _, prefix = rest[2:].partition("/")
    if "@" in bucket or ":" in bucket:
        # ConfigError, not Invalid, so the message does not quote the text: the part before '@' may be a secret.
        raise ConfigError(
            "an s3:// location must not carry credentials or a port; the store's endpoint and keys come from AWS_*"
        )
    if "?" in rest or "#" in rest:
        raise Invalid("must be s3://bucket/prefix without a query or fragment")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise Invalid(
            f"names the bucket {bucket!r}, which is not a valid bucket name "
            "(3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit)"
        )
    segments = prefix.strip("/").split("/") if prefix.strip("/") else []
    for segment in segments:
        if segment in ("", ".", "..") or not _SEGMENT.fullmatch(segment):
            raise Invalid(f"has the prefix {prefix!r}, with an empty, '.', '..' or unusual path segment")
    return ObjectLocation(bucket, "/".join(segments))


def resolved(where: Location) -> Location:
    """A local path made absolute; an object location as it is."""
    return where.resolve() if isinstance(where, Path) else where


class LocationKind(Kind[Location]):
    """A setting naming a zone's place: a local path or an ``s3://`` URL."""

    description = "path or s3://bucket/prefix"

    def convert(self, text: str) -> object:
        return parse_location(text)

    def check(self, value: object) -> Location:
        if not isinstance(value, (Path, ObjectLocation)):
            raise Invalid("must be a path or an s3://bucket/prefix location")
        return value
