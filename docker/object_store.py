"""Entry point of the object-store image: a single-node SeaweedFS speaking the S3 API on port 8333.

Commands (the image's ENTRYPOINT runs this file; CMD defaults to ``serve``):

    serve [WEED FLAGS...]         write the S3 identity from the environment, then exec ``weed server``
    create-bucket NAME --master HOST:PORT
                                  create the bucket through ``weed shell``; an existing bucket is fine
    health                        exit 0 once the S3 API answers on 127.0.0.1:8333 (the HEALTHCHECK)

``serve`` accepts exactly one identity, the pair ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``:
the same names the jobs read, so one pair of values configures both sides. It is written to
``/tmp/seaweedfs/s3.json`` (mode 0600, on the tmpfs of a read-only container), never printed.
Data (volumes, the filer's metadata) goes under ``OBJECT_STORE_DIR`` (default ``/data``, a named
volume in compose). Only the standard library: this image has no Python packages of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

S3_PORT = 8333
MASTER_PORT = 9333
CONFIG = Path("/tmp/seaweedfs/s3.json")
EXIT_USAGE = 2
BUCKET_WAIT_SECONDS = 120.0


def fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"object-store: {message}", file=sys.stderr)
    return code


def own_address() -> str:
    """The container's address on its network: weed advertises it to clients of the master (weed shell)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def serve(extra_flags: list[str]) -> int:
    key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key_id or not secret:
        return fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the one identity the S3 API accepts")
    identity = {
        "identities": [
            {
                "name": "sales-pipeline",
                "credentials": [{"accessKey": key_id, "secretKey": secret}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    CONFIG.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(CONFIG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(identity, handle)
    data_dir = os.environ.get("OBJECT_STORE_DIR", "/data")
    command = [
        "weed",
        "server",
        f"-dir={data_dir}",
        f"-ip={own_address()}",
        "-ip.bind=0.0.0.0",
        f"-master.port={MASTER_PORT}",
        "-s3",
        f"-s3.port={S3_PORT}",
        f"-s3.config={CONFIG}",
        # The catalog endpoints of the S3 gateway are not used by the pipeline.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        # A single node: no other volume server for clients to move to before this one stops.
        "-volume.preStopSeconds=0",
        *extra_flags,
    ]
    print(f"object-store: S3 API on port {S3_PORT}, data in {data_dir}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)


def create_bucket(arguments: list[str]) -> int:
    """``weed shell``'s ``s3.bucket.create``, retried while the store is still starting (bounded)."""
    if len(arguments) != 3 or arguments[1] != "--master":
        return fail("usage: create-bucket NAME --master HOST:PORT")
    name, master = arguments[0], arguments[2]
    deadline = time.monotonic() + BUCKET_WAIT_SECONDS
    while True:
        result = subprocess.run(
            ["weed", "shell", f"-master={master}"],
            input=f"s3.bucket.create -name {name}\n",
            capture_output=True,
            text=True,
            timeout=BUCKET_WAIT_SECONDS,
        )
        output = result.stdout + result.stderr
        if f"created bucket {name}" in output or f"bucket {name} already exists" in output:
            print(f"object-store: bucket {name} is there", file=sys.stderr)
            return 0
        if time.monotonic() > deadline:
            return fail(f"could not create bucket {name} through {master}: {output.strip()[-500:]}", 1)
        time.sleep(1)


def health() -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{S3_PORT}/healthz", timeout=2) as response:
            return 0 if response.status == 200 else 1
    except (OSError, urllib.error.URLError):
        return 1


def main(argv: list[str]) -> int:
    command, arguments = (argv[0], argv[1:]) if argv else ("serve", [])
    if command == "serve":
        return serve(arguments)
    if command == "create-bucket":
        return create_bucket(arguments)
    if command == "health":
        return health()
    return fail(f"unknown command {command!r}; expected serve, create-bucket or health")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
