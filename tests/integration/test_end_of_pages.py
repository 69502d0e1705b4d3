"""Where the pages end: the sales API's own "no such page" 404 or an empty page, never any other 404.

A wrong ``SALES_API_URL`` on a server whose 404s are JSON used to give exit 0 and an
empty "no sales" partition, which ``--missing-only`` then skipped forever. Each case
runs the job as a process against a real server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.manifest import verify_partition

from ..support.files import data_files
from .extract_support import TOKEN

DAY = "2022-08-09"
PAGE = '[{"client": "Ann", "purchase_date": "2022-08-09", "product": "TV", "price": %d}]'
SALES_API_404 = b'{"message": "You requested page that doesn\'t exist"}'
FRAMEWORK_404 = b'{"detail": "Not Found"}'
HTML_404 = b"<!doctype html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"


@pytest.mark.parametrize("last_page", [0, 6], ids=["404-on-page-1", "404-on-page-7"])
@pytest.mark.parametrize(
    ("end", "flags", "pages_kept"),
    [
        pytest.param((404, SALES_API_404), (), True, id="sales-api-404-ends"),
        pytest.param((200, b"[]"), (), True, id="200-empty-array-ends"),
        pytest.param((404, FRAMEWORK_404), (), False, id="framework-json-404-fails"),
        pytest.param((404, HTML_404), (), False, id="html-404-fails"),
        pytest.param((404, b""), (), False, id="empty-404-fails"),
        pytest.param((404, FRAMEWORK_404), ("--end-of-pages", '"detail": "Not Found"'), True, id="own-regex-ends"),
    ],
)
def test_end_of_pages(
    scripted_api: Callable[..., str],
    workspace,
    run_subprocess,
    last_page: int,
    end: tuple[int, bytes],
    flags: tuple[str, ...],
    pages_kept: bool,
) -> None:
    url = scripted_api(lambda day, page: (200, (PAGE % page).encode()) if page <= last_page else end)
    env = {**workspace.env, "SALES_API_URL": url, "AUTH_TOKEN": TOKEN}

    result = run_subprocess(env, "--date", DAY, "--concurrency", "2", *flags)

    if pages_kept:
        assert (result.code, result.error_lines("extract_job")) == (0, []), result.stderr
        manifest = verify_partition(workspace.partition(DAY))
        assert (manifest["pages"], manifest["records"]) == (last_page, last_page)
    else:
        assert result.code == 3, result.stderr
        [line] = result.error_lines("extract_job")
        page = last_page + 1
        assert line.startswith(f"extract_job: {DAY}: page {page}: HTTP 404 that is not the API's end of pages")
        assert f"{url}?date={DAY}&page={page}" in line, "the URL that answered is named"
        assert repr(end[1][:200].decode().strip()) in line, "the start of the body is quoted"
        assert data_files(workspace.base) == [], "nothing written"


def test_a_404_body_is_quoted_to_200_characters_only(scripted_api: Callable[..., str], workspace, run_subprocess):
    url = scripted_api(lambda day, page: (404, b"x" * 199 + b"END-OF-SNIPPET" + b"y" * 5000))
    result = run_subprocess({**workspace.env, "SALES_API_URL": url, "AUTH_TOKEN": TOKEN}, "--date", DAY)
    [line] = result.error_lines("extract_job")
    assert result.code == 3
    assert "x" * 199 + "E'" in line and "END-OF-SNIPPET" not in line


@pytest.mark.parametrize("value", ["(unclosed", "[z-a]"])
def test_a_bad_end_of_pages_regex_is_a_usage_error(workspace, run_subprocess, value: str) -> None:
    env = {**workspace.env, "SALES_API_URL": "http://127.0.0.1:9/sales", "AUTH_TOKEN": TOKEN}
    for source in (("--end-of-pages", value), ()):
        result = run_subprocess({**env, "EXTRACT_END_OF_PAGES": value} if not source else env, "--date", DAY, *source)
        assert result.code == 2, result.stderr
        named = "--end-of-pages is" if source else f"EXTRACT_END_OF_PAGES={value!r} is"
        assert f"extract_job: error: {named} not a valid regular expression" in result.stderr, "names its setting"
        assert data_files(workspace.base) == []
