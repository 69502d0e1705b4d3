"""The zones on an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph, R2, ...).

There is no rename on a store, so a commit is one conditional put (docs/object-storage.md):

1. every data object goes to a key no other run uses (``run=<run id>/<file>``,
   ``shared.storage.keys``), uploaded in full (large files in parts, as written);
2. the run lists its own objects once, to be sure they are all there;
3. ``_SUCCESS`` is put with ``If-None-Match: *`` when the partition had none when
   the run started, else ``If-Match: <the ETag it saw then>``. If another run
   committed in between, the store answers 412 and this run loses: it removes its
   objects and fails with exit 1, having made nothing visible.

Readers start from ``_SUCCESS`` and read only what it lists. Objects no manifest
references (replaced runs, dead runs) and unfinished multipart uploads are
removed by later runs of the date, once older than the grace period
(``STORAGE_GC_GRACE_SECONDS``), so a reader or a live run is never robbed.

Errors become ``shared.errors`` types in one place (``_storage_error``): an
unreachable, failing or throttling store is retriable (exit 1, after botocore's
own retries), a refused identity or a missing bucket is permanent (exit 3).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, BinaryIO, TypeVar, cast

from shared import redaction
from shared.errors import (
    ConfigError,
    FatalStorageError,
    PartitionError,
    RetriableStorageError,
    StorageError,
    name_a_few,
)
from shared.filenames import SUCCESS_FILE
from shared.manifest import FileEntry, file_entries, manifest_bytes, parse_manifest
from shared.storage.base import Partition, Root, Writer
from shared.storage.keys import data_name, listable, own_key, run_of
from shared.storage.location import ObjectLocation
from shared.testhook import reached
from shared.zones import DATASET

S3Client = Any
"""boto3's client; typed loosely so the jobs type-check whether or not boto3's stubs are installed."""

log = logging.getLogger(__name__)

T = TypeVar("T")

READ_AHEAD = 8
"""Files fetched ahead while a reader works on one (bounds memory to that many pages)."""
MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB
"""S3's smallest part but the last one."""

_PERMANENT_CODES = {
    "AccessDenied": "access denied",
    "AllAccessDisabled": "access denied",
    "AccountProblem": "access denied",
    "InvalidAccessKeyId": "the access key is not known to the store",
    "SignatureDoesNotMatch": "the secret key is wrong",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is not valid",
    "TokenRefreshRequired": "the session token has expired",
    "NoSuchBucket": "the bucket does not exist",
    "InvalidBucketName": "the bucket name is not valid",
    "PermanentRedirect": "the bucket is in another region (set AWS_REGION)",
    "AuthorizationHeaderMalformed": "the request was signed for the wrong region (set AWS_REGION)",
}
_RETRIABLE_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


class CommitConflict(RetriableStorageError):
    """Another run committed the partition first: this run's commit was refused (exit 1; a re-run may go on)."""


@dataclass(frozen=True)
class S3Options:
    """How to reach the store, from the standard AWS variables, and how the jobs use it."""

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    credentials_file: str | None = None
    config_file: str | None = None
    part_size: int = 8 * MIB
    grace_seconds: float = 3600.0
    max_attempts: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, part_size: int, grace_seconds: float, max_attempts: int) -> S3Options:
        """The options from ``env`` (the process environment over ``.env``); secrets registered for redaction."""

        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        secret, token = get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN")
        if secret:
            redaction.register(secret, "AWS_SECRET_ACCESS_KEY")
        if token:
            redaction.register(token, "AWS_SESSION_TOKEN")
        return cls(
            endpoint_url=get("AWS_ENDPOINT_URL_S3") or get("AWS_ENDPOINT_URL"),
            region=get("AWS_REGION") or get("AWS_DEFAULT_REGION"),
            access_key_id=get("AWS_ACCESS_KEY_ID"),
            secret_access_key=secret,
            session_token=token,
            profile=get("AWS_PROFILE"),
            credentials_file=get("AWS_SHARED_CREDENTIALS_FILE"),
            config_file=get("AWS_CONFIG_FILE"),
            part_size=max(part_size, MIN_PART_SIZE),
            grace_seconds=grace_seconds,
            max_attempts=max_attempts,
        )


def _client(options: S3Options) -> S3Client:
    try:
        boto3 = importlib.import_module("boto3")
        botocore_session = importlib.import_module("botocore.session")
        config_class = importlib.import_module("botocore.config").Config
        boto_core_error = importlib.import_module("botocore.exceptions").BotoCoreError
    except ImportError:
        raise ConfigError("an s3:// location needs the s3 extra: pip install 'sales-pipeline[s3]' (boto3)") from None
    for library in ("boto3", "botocore", "s3transfer"):  # their INFO lines ("Found credentials ...") are noise here
        logging.getLogger(library).setLevel(max(logging.WARNING, logging.getLogger().level))
    core = botocore_session.Session()
    for variable, value in (("credentials_file", options.credentials_file), ("config_file", options.config_file)):
        if value:
            core.set_config_variable(variable, value)
    try:
        if options.profile:
            core.set_config_variable("profile", options.profile)
        session = boto3.session.Session(botocore_session=core, region_name=options.region or "us-east-1")
        client = session.client(
            "s3",
            endpoint_url=options.endpoint_url,
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            aws_session_token=options.session_token,
            config=config_class(
                retries={"total_max_attempts": options.max_attempts, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                max_pool_connections=64,
                # Path-style addressing: what S3-compatible stores on an endpoint of their own expect.
                s3={"addressing_style": "path" if options.endpoint_url else "auto"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        # From a profile or a credentials file (not given explicitly): registered for redaction like the others.
        credentials = None if options.secret_access_key else session.get_credentials()
    except boto_core_error as exc:  # a missing profile, an unreadable credentials file
        raise ConfigError(f"cannot set up the object store client: {exc}") from None
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        for value, source in ((frozen.secret_key, "the AWS secret key"), (frozen.token, "the AWS session token")):
            if value:
                redaction.register(value, source)
    return client


def _storage_error(exc: Exception, where: str, endpoint: str | None) -> StorageError | None:
    """What a botocore failure means for the pipeline, or None when it is not one."""
    errors = importlib.import_module("botocore.exceptions")
    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _CONFLICT_CODES or status == 412:
            return CommitConflict(f"{where}: another run committed first ({code or status})")
        if code in _PERMANENT_CODES:
            return FatalStorageError(f"{where}: {_PERMANENT_CODES[code]} ({code})")
        if code in _RETRIABLE_CODES or status >= 500 or status == 429:
            return RetriableStorageError(f"{where}: the store is failing or throttling ({code or status}); retry later")
        if status == 403:
            return FatalStorageError(f"{where}: access denied (HTTP 403)")
        return FatalStorageError(
            f"{where}: the store refused the request ({code or status}: {error.get('Message', '')})"
        )
    if isinstance(exc, (errors.NoCredentialsError, errors.PartialCredentialsError)):
        return FatalStorageError(f"{where}: no usable credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, (errors.ConnectionError, errors.HTTPClientError)):
        return RetriableStorageError(
            f"{where}: cannot reach the store at {endpoint or 'its AWS endpoint'} ({type(exc).__name__}); retry later"
        )
    return None


def _missing(exc: Exception) -> bool:
    if not isinstance(exc, importlib.import_module("botocore.exceptions").ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code in ("NoSuchKey", "NotFound") or (status == 404 and code in ("404", ""))


@dataclass(frozen=True)
class _Object:
    key: str
    size: int
    modified: float
    """Seconds since the epoch."""


class S3Store:
    """One bucket's client, made when first needed in each process (worker processes get their own)."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self._client: S3Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["options"])  # type: ignore[misc]

    @property
    def client(self) -> S3Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client, self._pid = _client(self.options), os.getpid()
            return self._client

    def call(self, where: str, action: Callable[[S3Client], T]) -> T:
        """``action(client)``, its failures as the pipeline's errors; a missing key is left to the caller."""
        try:
            return action(self.client)
        except Exception as exc:
            if _missing(exc):
                raise
            error = _storage_error(exc, where, self.options.endpoint_url)
            if error is None:
                raise
            raise error from None

    def get(self, bucket: str, key: str) -> tuple[bytes, str] | None:
        """An object's bytes and ETag, or None when there is no such key."""
        try:
            answer = self.call(f"s3://{bucket}/{key}", lambda c: c.get_object(Bucket=bucket, Key=key))
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        return answer["Body"].read(), answer["ETag"]

    def head(self, bucket: str, key: str) -> int | None:
        try:
            return int(
                self.call(f"s3://{bucket}/{key}", lambda c: c.head_object(Bucket=bucket, Key=key))["ContentLength"]
            )
        except Exception as exc:
            if _missing(exc):
                return None
            raise

    def put(self, bucket: str, key: str, data: bytes, **condition: str) -> str:
        """Store ``data`` at ``key`` (``IfNoneMatch``/``IfMatch`` as given); returns the new ETag."""
        answer = self.call(
            f"s3://{bucket}/{key}", lambda c: c.put_object(Bucket=bucket, Key=key, Body=data, **condition)
        )
        return str(answer["ETag"])

    def delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.call(
                f"s3://{bucket}/{keys[start]}",
                lambda c, b=batch: c.delete_objects(Bucket=bucket, Delete={"Objects": b, "Quiet": True}),  # type: ignore[misc]
            )

    def objects(self, bucket: str, prefix: str) -> Iterator[_Object]:
        """Every object whose key starts with ``prefix``."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            answer = self._list_page(bucket, prefix, kwargs)
            for item in answer.get("Contents", []):
                yield _Object(item["Key"], int(item["Size"]), item["LastModified"].timestamp())
            if not answer.get("IsTruncated"):
                return
            token = answer.get("NextContinuationToken")

    def _list_page(self, bucket: str, prefix: str, kwargs: dict[str, Any]) -> Any:
        return self.call(f"s3://{bucket}/{prefix}", lambda c: c.list_objects_v2(**kwargs))

    def uploads(self, bucket: str, prefix: str) -> list[tuple[str, str, float]]:
        """Unfinished multipart uploads below ``prefix``: (key, upload id, started)."""
        found: list[tuple[str, str, float]] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            answer = self.call(f"s3://{bucket}/{prefix}", lambda c: c.list_multipart_uploads(**kwargs))
            found += [(u["Key"], u["UploadId"], u["Initiated"].timestamp()) for u in answer.get("Uploads", [])]
            if not answer.get("IsTruncated"):
                return found
            kwargs["KeyMarker"], kwargs["UploadIdMarker"] = answer["NextKeyMarker"], answer["NextUploadIdMarker"]

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.call(
                f"s3://{bucket}/{key}",
                lambda c: c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id),
            )
        except Exception as exc:
            if not _missing(exc) and "NoSuchUpload" not in str(exc):
                raise


class _Upload(io.RawIOBase):
    """A file being uploaded as it is written: one put when small, else a multipart upload, part by part.

    Memory is bounded by the part size. ``close`` completes the upload; ``abort``
    (on failure) cancels it so no part stays behind.
    """

    def __init__(self, store: S3Store, bucket: str, key: str, part_size: int) -> None:
        super().__init__()
        self._store, self._bucket, self._key, self._part_size = store, bucket, key, part_size
        self._buffer = bytearray()
        self._digest = hashlib.sha256()
        self.size = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.done = False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._digest.update(chunk)
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= self._part_size:
            self._send_part()
        return len(chunk)

    def _send_part(self) -> None:
        bucket, key, where = self._bucket, self._key, f"s3://{self._bucket}/{self._key}"
        if self._upload_id is None:
            started = self._store.call(where, lambda c: c.create_multipart_upload(Bucket=bucket, Key=key))
            self._upload_id = str(started["UploadId"])
        number, body, upload_id = len(self._parts) + 1, bytes(self._buffer), self._upload_id
        answer = self._store.call(
            where,
            lambda c: c.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body),
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._buffer = bytearray()
        reached("storage.part-uploaded")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._upload_id is None:
                self._store.put(self._bucket, self._key, bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part()
                bucket, key, upload_id, parts = self._bucket, self._key, self._upload_id, self._parts
                self._store.call(
                    f"s3://{bucket}/{key}",
                    lambda c: c.complete_multipart_upload(
                        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                    ),
                )
            self.done = True
        finally:
            self._buffer = bytearray()
            super().close()

    def abort(self) -> None:
        """Cancel an unfinished multipart upload (best effort: a later run's cleanup catches what this misses)."""
        self._buffer = bytearray()
        if self._upload_id is not None and not self.done:
            self._store.abort(self._bucket, self._key, self._upload_id)
        if not self.closed:
            super().close()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _TrackedFile(io.BufferedWriter):
    """The file a streaming writer gets: closing it completes the upload; leaving ``with`` on an error aborts it."""

    def __init__(self, upload: _Upload, on_close: Callable[[], None]) -> None:
        super().__init__(upload, buffer_size=256 * 1024)
        self._upload, self._on_close = upload, on_close

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        if self._upload.done:
            self._on_close()

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:
            self._upload.abort()  # a half-written file is never completed
        self.close()


def _age(seconds_since_epoch: float) -> float:
    return time.time() - seconds_since_epoch


class S3Partition(Partition):
    """A partition below a key prefix: ``<prefix>/_SUCCESS`` and the run-scoped objects it lists."""

    def __init__(self, store: S3Store, location: ObjectLocation) -> None:
        self.store = store
        self.location = location

    def __str__(self) -> str:
        return str(self.location)

    def __repr__(self) -> str:
        return f"S3Partition({str(self.location)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Partition) and other.location == self.location

    def __hash__(self) -> int:
        return hash(self.location)

    @property
    def name(self) -> str:
        return self.location.prefix.rsplit("/", 1)[-1]

    def key(self, name: str) -> str:
        return self.location.key(name)

    def _folder(self) -> str:
        return self.location.key("")

    def identity(self) -> str:
        return str(self.location)

    def objects(self) -> dict[str, _Object]:
        """Every object below this partition, by its name relative to it."""
        start = len(self._folder())
        return {item.key[start:]: item for item in self.store.objects(self.location.bucket, self._folder())}

    def exists(self) -> bool:
        return any(True for _ in self.store.objects(self.location.bucket, self._folder()))

    def current(self) -> tuple[dict[str, Any], str] | None:
        """The manifest and its ETag, or None when there is no ``_SUCCESS``."""
        found = self.store.get(self.location.bucket, self.key(SUCCESS_FILE))
        if found is None:
            return None
        data, etag = found
        manifest = parse_manifest(data, f"{self}/{SUCCESS_FILE}")
        strange = [entry.name for entry in file_entries(manifest) if not listable(entry.name)]
        if strange:
            raise PartitionError(
                f"manifest {self}/{SUCCESS_FILE} lists {name_a_few(strange)}, which the pipeline never writes"
            )
        return manifest, etag

    def current_or_none(self) -> tuple[dict[str, Any], str] | None:
        """The manifest and ETag; a broken manifest counts as an empty one (a new run replaces it)."""
        try:
            return self.current()
        except PartitionError:
            found = self.store.get(self.location.bucket, self.key(SUCCESS_FILE))
            return ({"files": []}, found[1]) if found else None

    def read_manifest(self) -> dict[str, Any]:
        found = self.current()
        if found is None:
            if not self.exists():
                raise PartitionError(f"partition {self} does not exist")
            raise PartitionError(f"partition {self} is incomplete: no {SUCCESS_FILE} manifest")
        return found[0]

    def check_files(self, manifest: dict[str, Any]) -> None:
        """Every listed object is there with the recorded size (other runs' objects may sit beside them)."""
        present = self.objects()
        names = [entry.name for entry in file_entries(manifest)]
        twice = sorted({name for name in names if names.count(name) > 1})
        missing = sorted(entry.name for entry in file_entries(manifest) if entry.name not in present)
        resized = sorted(
            entry.name
            for entry in file_entries(manifest)
            if entry.name in present and present[entry.name].size != entry.bytes
        )
        if twice or missing or resized:
            details = [f"listed more than once: {name_a_few(twice)}"] if twice else []
            if missing:
                details.append(f"missing {name_a_few(missing)}")
            if resized:
                details.append(f"size differs from the manifest: {name_a_few(resized)}")
            raise PartitionError(f"partition {self} does not match its manifest: {'; '.join(details)}")

    def read(self, name: str) -> bytes:
        if not listable(name):
            raise PartitionError(f"{self}/{name}: not a name the pipeline writes; refusing to read it")
        found = self.store.get(self.location.bucket, self.key(name))
        if found is None:
            raise PartitionError(f"{self}/{name}: cannot read: no such object")
        return found[0]

    def read_all(self, names: Iterable[str]) -> Iterator[bytes]:
        """Each file a round trip to the store: ``READ_AHEAD`` are fetched while the caller works on one."""
        pool = ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="s3-read")
        try:
            pending: deque[Future[bytes]] = deque()
            queued = iter(names)
            for name in itertools.islice(queued, READ_AHEAD):
                pending.append(pool.submit(self.read, name))
            while pending:
                data = pending.popleft().result()
                following = next(queued, None)
                if following is not None:
                    pending.append(pool.submit(self.read, following))
                yield data
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def size(self, name: str) -> int | None:
        return self.store.head(self.location.bucket, self.key(name))

    def writer(self, run_id: str) -> S3Writer:
        return S3Writer(self, run_id)

    def clean_leftovers(self) -> None:
        found = self.current_or_none()
        self.collect(found[0] if found else None)

    def collect(self, manifest: dict[str, Any] | None) -> None:
        """Remove the run folders no manifest references and unfinished uploads, once older than the grace period.

        A run folder holding its own ``_SUCCESS`` (a quarantine run) is the
        quarantine's to remove (``shared.quarantine.settle``), not garbage.
        """
        grace = self.store.options.grace_seconds
        referenced = {entry.name.split("/", 1)[0] for entry in file_entries(manifest)} if manifest else set()
        groups: dict[str, list[_Object]] = {}
        for relative, item in self.objects().items():
            top, _, rest = relative.partition("/")
            if rest and run_of(top) is not None and own_key(relative):
                groups.setdefault(top, []).append(item)
        garbage = [
            item.key
            for top, items in groups.items()
            if top not in referenced
            and not any(item.key.endswith(f"/{top}/{SUCCESS_FILE}") for item in items)
            and all(_age(item.modified) >= grace for item in items)
            for item in items
        ]
        if garbage:
            self.store.delete(self.location.bucket, garbage)
            log.info("%s: removed %d object(s) of finished or dead runs", self, len(garbage))
        for key, upload_id, started in self.store.uploads(self.location.bucket, self._folder()):
            if _age(started) >= grace and own_key(key[len(self._folder()) :]):
                self.store.abort(self.location.bucket, key, upload_id)
                log.info("%s: aborted an unfinished upload of %s", self, key)

    def check_output(self, zone: str, named_by: str) -> None:
        foreign = sorted(relative for relative in self.objects() if not own_key(relative))
        if foreign:
            raise ConfigError(
                f"refusing {named_by} {self}: it holds {name_a_few(foreign, 3)}, which the pipeline did not write; "
                "name the date's own prefix, or a new or empty one"
            )

    def child(self, name: str) -> S3Partition:
        return S3Partition(self.store, self.location.join(name))

    def children(self, prefix: str) -> list[str]:
        return sorted(
            relative.split("/", 1)[0]
            for relative in self.objects()
            if relative.startswith(prefix) and relative.endswith(f"/{SUCCESS_FILE}") and relative.count("/") == 1
        )

    def replace_manifest(self, manifest: dict[str, Any]) -> None:
        found = self.current()
        if found is None:
            raise PartitionError(f"partition {self} has no {SUCCESS_FILE} to replace")
        self.store.put(self.location.bucket, self.key(SUCCESS_FILE), manifest_bytes(manifest), IfMatch=found[1])

    def remove_file(self, name: str) -> None:
        if own_key(name):
            self.store.delete(self.location.bucket, [self.key(name)])

    def remove(self) -> None:
        """``_SUCCESS`` first, so readers see no partition at once; then its own objects."""
        items = self.objects()
        if SUCCESS_FILE in items:
            self.store.delete(self.location.bucket, [self.key(SUCCESS_FILE)])
        rest = [item.key for relative, item in items.items() if relative != SUCCESS_FILE and own_key(relative)]
        if rest:
            self.store.delete(self.location.bucket, rest)

    def protected(self, finished_at: str) -> bool:
        try:
            finished = datetime.fromisoformat(finished_at.replace("Z", "+00:00"))
        except ValueError:
            return False
        if finished.tzinfo is None:
            finished = finished.replace(tzinfo=timezone.utc)
        return _age(finished.timestamp()) < self.store.options.grace_seconds


class S3Writer(Writer):
    """A new version of an ``S3Partition``: run-scoped objects, then the conditional put of ``_SUCCESS``."""

    def __init__(self, partition: S3Partition, run_id: str) -> None:
        self.partition = partition
        self.run_id = run_id
        self._base_etag: str | None = None
        self._files: dict[str, tuple[int, str]] = {}
        self._open: list[_Upload] = []
        self._lock = threading.Lock()
        self._committed = False

    def __enter__(self) -> S3Writer:
        found = self.partition.current_or_none()
        self.partition.collect(found[0] if found else None)
        self._base_etag = found[1] if found else None
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._committed:
            return
        try:
            for upload in self._open:
                upload.abort()
            keys = [self.partition.key(self.listed_name(name)) for name in self._files]
            if keys:
                self.partition.store.delete(self.partition.location.bucket, keys)
        except StorageError as problem:  # the store is why we are failing, perhaps: a later run's cleanup finishes
            log.warning("%s: could not remove this run's objects yet: %s", self.partition, problem)

    def listed_name(self, name: str) -> str:
        return data_name(self.partition.name, self.run_id, name)

    def write_bytes(self, name: str, data: bytes) -> None:
        self.partition.store.put(self.partition.location.bucket, self.partition.key(self.listed_name(name)), data)
        with self._lock:
            self._files[name] = (len(data), hashlib.sha256(data).hexdigest())

    def open(self, name: str) -> BinaryIO:
        upload = _Upload(
            self.partition.store,
            self.partition.location.bucket,
            self.partition.key(self.listed_name(name)),
            self.partition.store.options.part_size,
        )
        with self._lock:
            self._open.append(upload)
        return cast(BinaryIO, _TrackedFile(upload, lambda: self._closed(name, upload)))

    def _closed(self, name: str, upload: _Upload) -> None:
        with self._lock:
            self._files[name] = (upload.size, upload.hexdigest())

    def keep_only(self, names: set[str]) -> None:
        drop = [name for name in self._files if name not in names]
        if drop:
            self.partition.store.delete(
                self.partition.location.bucket, [self.partition.key(self.listed_name(n)) for n in drop]
            )
        for name in drop:
            del self._files[name]

    def entry(self, name: str, records: int) -> FileEntry:
        size, digest = self._files[name]
        return FileEntry(self.listed_name(name), records, size, digest)

    def commit(self, manifest: dict[str, Any]) -> None:
        present = self.partition.objects()
        lost = sorted(
            entry.name
            for entry in file_entries(manifest)
            if entry.name not in present or present[entry.name].size != entry.bytes
        )
        if lost:
            raise RetriableStorageError(
                f"{self.partition}: this run's objects {name_a_few(lost)} are gone before its commit "
                "(removed as garbage? STORAGE_GC_GRACE_SECONDS must exceed a run's length); nothing made visible"
            )
        reached("partition.synced")
        condition = {"IfMatch": self._base_etag} if self._base_etag else {"IfNoneMatch": "*"}
        try:
            self.partition.store.put(
                self.partition.location.bucket, self.partition.key(SUCCESS_FILE), manifest_bytes(manifest), **condition
            )
        except CommitConflict:
            raise CommitConflict(
                f"{self.partition}: another run committed this partition while run {self.run_id} was writing; "
                "this run's objects are removed and nothing of it is visible"
            ) from None
        self._committed = True
        reached("partition.swapped")
        try:
            self.partition.collect(manifest)
        except StorageError as problem:
            log.warning("%s: committed; removing replaced objects failed for now: %s", self.partition, problem)


class S3Root(Root):
    """``BASE_DIR`` as ``s3://bucket/prefix``."""

    def __init__(self, store: S3Store, location: ObjectLocation) -> None:
        self.store = store
        self.location = location

    def __str__(self) -> str:
        return str(self.location)

    def folder(self, *parts: str) -> S3Partition:
        return S3Partition(self.store, self.location.join(*parts))

    def _key(self, zone: str, name: str) -> str:
        return self.location.join(zone, DATASET).key(name)

    def read_record(self, zone: str, name: str) -> bytes | None:
        found = self.store.get(self.location.bucket, self._key(zone, name))
        return None if found is None else found[0]

    def write_record(self, zone: str, name: str, data: bytes, run_id: str) -> None:
        self.store.put(self.location.bucket, self._key(zone, name), data)  # one put replaces an object atomically

    def record_location(self, zone: str, name: str) -> str:
        return f"s3://{self.location.bucket}/{self._key(zone, name)}"
