"""The browser fixtures of tests/browser, for the pay pages' browser test, and the scripted
Stripe (a respx state machine) every Stripe test of payments uses."""

from collections.abc import Iterator

import pytest
import respx

from tests.browser.conftest import artifacts, browser  # noqa: F401
from tests.payments.stripe_fake import FakeStripe


@pytest.fixture
def stripe_api() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        router.route(host="127.0.0.1").pass_through()
        yield fake
