"""FastAPI + audit-sdk: who did what to which invoice, from where, in which request.

- `AsgiAuditMiddleware` binds, per request, the actor (from the bearer token),
  the client address (X-Forwarded-For believed only from trusted proxies), the
  request id and the caller's trace.
- `@audited` records reads and deletes, including refused deletes (403) as failures.
- structlog events marked `audit=True` become audit records (`AuditProcessor`),
  and a background task started by a request keeps that request's actor.

Run it (keys from `audit-sdk keygen keys/`):

    AUDIT_SDK_HMAC_KEY_FILE=keys/hmac-keys.json \\
    AUDIT_SDK_CHECKPOINT_KEY=keys/checkpoint-key.pem \\
        python examples/fastapi_app.py            # http://127.0.0.1:8000
    curl -H 'Authorization: Bearer token-alice' localhost:8000/invoices/inv-1
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException

import audit_sdk
from audit_sdk.integrations.asgi import AsgiAuditMiddleware
from audit_sdk.integrations.structlog_processor import AuditProcessor

TOKENS = {"token-alice": "alice", "token-bob": "bob", "token-carol": "carol"}
ADMINS = {"carol"}
INVOICES = {"inv-1": 120.0, "inv-2": 75.5, "inv-3": 990.0}

log = structlog.get_logger("invoices")
_background: set[asyncio.Task[None]] = set()


def actor_from_token(scope: dict[str, Any]) -> str | None:
    """Your authentication goes here: this one maps a bearer token to a user."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value.startswith(b"Bearer "):
            return TOKENS.get(value[7:].decode("latin-1"))
    return None


def configure_structlog() -> None:
    """structlog with the audit processor: `log.info(..., audit=True, action=...)` is audited."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            AuditProcessor(),
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ]
    )


@audit_sdk.audited("invoice.read", action="READ", target="invoice_id", target_type="invoice")
def read_invoice(invoice_id: str) -> dict[str, Any]:
    if invoice_id not in INVOICES:
        raise HTTPException(status_code=404, detail="no such invoice")
    return {"id": invoice_id, "amount": INVOICES[invoice_id]}


@audit_sdk.audited("invoice.delete", action="DELETE", target="invoice_id", target_type="invoice")
def delete_invoice(invoice_id: str) -> None:
    if audit_sdk.current_context().actor not in ADMINS:
        raise HTTPException(status_code=403, detail="only admins delete invoices")
    INVOICES.pop(invoice_id, None)


async def deliver_export(invoice_id: str, fmt: str) -> None:
    """Runs after the response was sent, and still carries the requesting actor."""
    await asyncio.sleep(0)
    audit_sdk.audit_event(
        "invoice.export.delivered",
        action="SEND",
        target=invoice_id,
        target_type="invoice",
        details={"format": fmt},
    )


def create_app(*, trusted_proxies: Iterable[str] = ("127.0.0.1", "::1")) -> FastAPI:
    app = FastAPI(title="invoices")
    app.add_middleware(
        AsgiAuditMiddleware,
        actor=actor_from_token,
        trusted_proxies=list(trusted_proxies),
        source_type="ip",
    )

    @app.get("/invoices/{invoice_id}")
    def get_invoice(invoice_id: str) -> dict[str, Any]:  # sync: runs in the thread pool
        return read_invoice(invoice_id)

    @app.post("/invoices/{invoice_id}/export")
    async def export_invoice(invoice_id: str, fmt: str = "csv") -> dict[str, str]:
        if invoice_id not in INVOICES:
            raise HTTPException(status_code=404, detail="no such invoice")
        log.info(
            "invoice.export",
            audit=True,
            action="EXPORT",
            target=invoice_id,
            target_type="invoice",
            details={"format": fmt},
        )
        task = asyncio.create_task(deliver_export(invoice_id, fmt))
        _background.add(task)
        task.add_done_callback(_background.discard)
        return {"status": "exporting", "request_id": audit_sdk.current_context().request_id or ""}

    @app.delete("/invoices/{invoice_id}", status_code=204)
    def remove_invoice(invoice_id: str) -> None:
        delete_invoice(invoice_id)

    return app


def main() -> None:
    import uvicorn

    configure_structlog()
    audit_sdk.configure(service_name="invoices-api")
    try:
        # proxy_headers=False: the audit middleware applies X-Forwarded-For itself
        port = int(os.environ.get("PORT", "8000"))
        uvicorn.run(create_app(), host="127.0.0.1", port=port, proxy_headers=False)
    finally:
        audit_sdk.shutdown()


if __name__ == "__main__":
    main()
