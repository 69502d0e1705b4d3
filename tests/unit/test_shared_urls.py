"""The one URL check both jobs' URL settings use: what it accepts, and that no message quotes a credential."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.urls import check_http_url


@pytest.mark.parametrize(
    ("url", "credentials", "message"),
    [
        pytest.param("ftp://127.0.0.1/x", True, "must be an http:// or https:// URL", id="scheme"),
        pytest.param("http://127.0.0.1:99999/x", True, "not a valid URL", id="port-out-of-range"),
        pytest.param("http://alice:PassW0rd/@host/x", True, "must be percent-encoded", id="password-breaks-parsing"),
        pytest.param("http://alice:PassW0rd@host/x", False, "must not hold credentials", id="credentials-refused"),
    ],
)
def test_unusable_url_is_a_config_error_naming_the_setting(url: str, credentials: bool, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_http_url("SOME_URL", url, credentials=credentials)
    assert str(caught.value).startswith("SOME_URL ")
    assert "PassW0rd" not in str(caught.value)


def test_credentials_are_kept_where_allowed() -> None:
    assert check_http_url("SOME_URL", " http://alice:pw@host/x ", credentials=True) == "http://alice:pw@host/x"
