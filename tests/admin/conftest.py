"""The browser fixtures of tests/browser, for the admin page's browser test."""

from tests.browser.conftest import artifacts, browser  # noqa: F401
