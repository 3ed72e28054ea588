"""The outbox page (`GET /_local/`) in a real headless Chromium, against otp-local over HTTP.

`python3 dev.py test` installs Debian's Chromium; without it these tests fail, never skip.
The brand name is an HTML payload: it reaches the SMS body and the email subject, the text an
attacker controls. (`user_id` cannot carry markup: the contract allows only A-Z a-z 0-9 . _ @ :
+ -, so the events table is checked for the ids it shows.)
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.support.local_stack import Stack, phone_number, started, user_id

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAYLOAD = "<img src=x onerror=window.pwned=1>"
"""Markup that runs script if it is ever parsed as HTML; 34 characters, a valid brandName."""
PLACEHOLDER_SENDER = "otp-local@example.com"
DEADLINE_MILLISECONDS = 20_000
"""How long the page may take to show a change: events come from the stream poller."""


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    yield from started("-c", f"brandName={PAYLOAD}")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, stack: Stack) -> Iterator[BrowserContext]:
    expect.set_options(timeout=DEADLINE_MILLISECONDS)
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `python3 dev.py test` installs it as root "
            "(apt-get install chromium chromium-driver); the outbox page test needs it"
        )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.process.url)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext, stack: Stack) -> Iterator[Page]:
    """The outbox page, loaded once and live; fails the test on any script error or dialog."""
    problems: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.goto(f"{stack.process.url}/_local/")
    expect(page.locator("#status")).to_contain_text("live")
    page.evaluate("window.loadedOnce = true")  # gone if the page ever reloads
    yield page
    assert page.evaluate("window.loadedOnce") is True, "the page reloaded"
    page.close()
    assert problems == []


def test_a_requested_code_appears_without_reload_newest_first_and_copies(
    stack: Stack, page: Page
) -> None:
    sms_user, phone = user_id("page"), phone_number()
    assert stack.request(sms_user, phone).status == 202
    sms = page.locator(".message").filter(has_text=phone)
    expect(sms.locator(".code")).to_have_text(stack.last_code(phone))

    email_user, address = user_id("page"), f"{user_id('inbox')}@example.com"
    assert stack.request(email_user, address, channel="email").status == 202
    newest = page.locator(".message").first
    expect(newest.locator(".destination")).to_have_text(address)
    expect(newest).to_have_attribute("data-channel", "email")
    expect(newest.locator(".sender")).to_have_text(PLACEHOLDER_SENDER)
    expect(newest.locator(".subject")).to_contain_text(PAYLOAD)
    expect(page.locator(".message").nth(1).locator(".destination")).to_have_text(phone)

    email_code = stack.last_code(address)
    expect(newest.locator(".code")).to_have_text(email_code)
    newest.locator(".copy").click()
    expect(newest.locator(".copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == email_code

    sms.locator(".code").click()  # one click selects exactly the code, for a manual copy
    assert page.evaluate("window.getSelection().toString()") == stack.last_code(phone)


def test_the_lifecycle_events_are_listed_newest_first(stack: Stack, page: Page) -> None:
    first, second = user_id("events"), user_id("events")
    assert stack.request(first, phone_number()).status == 202
    assert stack.request(second, phone_number()).status == 202
    pending = page.locator('.event[data-type="verification.pending"] .user-id')
    expect(pending.filter(has_text=second)).to_have_count(1)
    expect(pending.filter(has_text=first)).to_have_count(1)
    shown = pending.all_inner_texts()
    assert shown.index(second) < shown.index(first)

    assert stack.cancel(second).status == 200
    canceled = page.locator('.event[data-type="verification.canceled"]').first
    expect(canceled.locator(".user-id")).to_have_text(second)


def test_attacker_controlled_text_is_shown_as_text_and_never_runs(stack: Stack, page: Page) -> None:
    phone = phone_number()
    assert stack.request(user_id("xss"), phone).status == 202
    sms = page.locator(".message").filter(has_text=phone)
    expect(sms.locator(".body")).to_contain_text(PAYLOAD)
    assert page.locator("#messages img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_empty_the_outbox_clears_the_list_and_the_next_code_still_appears(
    stack: Stack, page: Page
) -> None:
    assert stack.request(user_id("clear"), phone_number()).status == 202
    expect(page.locator(".message").first).to_be_visible()
    page.locator("#clear").click()
    expect(page.locator(".message")).to_have_count(0)
    expect(page.locator("#no-messages")).to_be_visible()
    assert stack.outbox() == []
    phone = phone_number()
    assert stack.request(user_id("clear"), phone).status == 202
    expect(page.locator(".message .destination")).to_have_text([phone])


def test_the_page_reaches_nothing_but_its_own_loopback_origin(
    browser: BrowserContext, stack: Stack
) -> None:
    requested: list[str] = []
    page = browser.new_page()
    page.on("request", lambda request: requested.append(request.url))
    answer = page.goto(f"{stack.process.url}/_local/")
    assert answer is not None and answer.ok
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    expect(page.locator("#status")).to_contain_text("live")
    page.close()
    assert requested, "the page made no request"
    assert all(url.startswith(f"{stack.process.url}/_local/") for url in requested), requested


def test_local_routes_refuse_a_host_name_that_is_not_loopback(stack: Stack) -> None:
    """A site rebinding its own name to 127.0.0.1 must not read the codes same-origin."""
    rebound = stack.call("GET", "/_local/outbox", headers={"Host": "attacker.example:8080"})
    assert rebound.status == 403
    assert stack.call("GET", "/_local/outbox", headers={"Host": "localhost"}).status == 200


def test_every_file_of_the_page_is_shipped_as_package_data() -> None:
    """An installed (non-editable) otp-local finds the page through importlib.resources."""
    root = Path(__file__).resolve().parents[2]
    declared = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = declared["package-data"]["otp_service"]
    folder = root / "src" / "otp_service" / "local" / "outbox_page"
    for page_file in folder.iterdir():
        if page_file.is_file() and page_file.suffix not in (".py", ".pyc"):
            shipped = page_file.relative_to(root / "src" / "otp_service")
            assert any(shipped.match(pattern) for pattern in patterns), shipped


def test_local_routes_refuse_a_page_of_another_origin(stack: Stack) -> None:
    """Any site's page may send a cross-origin DELETE; its browser names the site in `Origin`."""
    assert stack.request(user_id("origin"), phone_number()).status == 202
    sent = stack.call("DELETE", "/_local/outbox", headers={"Origin": "https://attacker.example"})
    assert sent.status == 403
    assert stack.outbox() != []
    own = stack.call("GET", "/_local/outbox", headers={"Origin": stack.process.url})
    assert own.status == 200


def test_the_page_s_address_without_its_slash_redirects_to_it(stack: Stack) -> None:
    redirect = stack.call("GET", "/_local")
    assert (redirect.status, redirect.headers["Location"]) == (308, "/_local/")
