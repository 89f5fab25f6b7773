"""The browser fixtures of tests/browser, for the agreements matrix on /admin."""

from tests.browser.conftest import artifacts, browser  # noqa: F401
