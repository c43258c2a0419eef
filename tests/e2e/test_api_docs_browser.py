"""The API's documentation page (/api/v1/docs) in a real browser: Swagger UI, served from this
server (vendored from npm), renders every operation of the generated document with no console
error (the page's CSP would report an inline script), no request to another origin, and no
serious or critical accessibility violation: on the page, with an operation open, and in the
authorization dialog."""

from __future__ import annotations

from typing import Any

from tests.e2e.console import axe_violations, screenshot


def test_the_docs_page_renders_every_operation(app: Any, client: Any, page: Any, public_url: str) -> None:
    document = client.get("/api/v1/openapi.json").json
    operations = sum(len(item) for item in document["paths"].values())
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith(public_url) else None)
    page.goto(f"{public_url}/api/v1/docs")
    page.wait_for_selector(".opblock-summary", timeout=20_000)
    assert page.locator("h1").count() == 1 and "Waybill API" in page.locator("h1").inner_text()
    assert page.locator(".opblock").count() == operations >= 30
    assert page.locator(".opblock-summary-path", has_text="/api/v1/orders/{order_id}/approve").count() == 1
    assert axe_violations(page) == []

    page.locator(".opblock-summary-control", has_text="/api/v1/returns/{return_id}/receive").first.click()
    opened = page.locator(".opblock.is-open")
    opened.locator(".responses-wrapper").wait_for()
    words = opened.inner_text()
    assert "409" in words and "return_id" in words and "ReturnReceive" in page.content()
    assert axe_violations(page) == []
    screenshot(page, "api-docs")

    page.locator(".btn.authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.wait_for()
    assert "bearer" in dialog.inner_text().lower()
    assert axe_violations(page) == []
    dialog.get_by_role("button", name="Close").first.click()
    dialog.wait_for(state="hidden")

    assert page.console_errors == []
    assert outside == []
