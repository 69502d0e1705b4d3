"""The environment a job runs in during a test: nothing the programs read leaks in from the machine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from convert_job.cli import ConvertSettings
from extract_job.settings import ExtractSettings
from sales_api_sim.cli import ServerSettings
from sales_api_sim.config import SimulatorConfig
from shared.settings import env_names
from shared.testhook import PAUSE_DIR_ENV, PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]

# Every variable a program reads: the declared settings of all of them (a new setting is scrubbed without a
# change here), the .env file's location, and the test pause hooks.
PIPELINE_VARIABLES = frozenset(
    name
    for settings in (ExtractSettings, ConvertSettings, ServerSettings, SimulatorConfig)
    for name in env_names(settings)
) | {"ENV_FILE", PAUSE_ENV, PAUSE_DIR_ENV}

# What could send a job's traffic anywhere but 127.0.0.1, or change how it trusts a server.
NETWORK_VARIABLES = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NETRC",
    }
)

# What the object-store client reads (docs/object-storage.md): a developer's own cloud identity must not reach a test.
AWS_VARIABLES = frozenset(
    {
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
    }
)

SCRUBBED = PIPELINE_VARIABLES | NETWORK_VARIABLES | AWS_VARIABLES


def job_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The machine's environment without anything in ``SCRUBBED``, the repository importable, plus ``env``."""
    clean = {name: value for name, value in os.environ.items() if name not in SCRUBBED}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), clean.get("PYTHONPATH")]))
    clean["PYTHONDONTWRITEBYTECODE"] = "1"
    clean.update(env or {})
    return clean
