"""The browser fixtures of tests/browser, for the pay pages' browser test."""

from tests.browser.conftest import artifacts, browser  # noqa: F401
