"""Flask + audit-sdk: audited downloads, refused deletes and a worker job.

- `WsgiAuditMiddleware` binds, per request, the actor (from the bearer token),
  the client address (X-Forwarded-For believed only from trusted proxies), the
  request id and the caller's trace.
- stdlib `logging` records carrying `extra={"audit": {...}}` become audit
  records (`AuditHandler`); the log line itself goes wherever your logging sends it.
- `@audited` records deletes, refused ones (403) as failures.
- A report job handed to a thread pool keeps the actor of the request that
  started it (`jobs.carry_context`).

Run it (keys from `audit-sdk keygen keys/`):

    AUDIT_SDK_HMAC_KEY_FILE=keys/hmac-keys.json \\
    AUDIT_SDK_CHECKPOINT_KEY=keys/checkpoint-key.pem \\
        python examples/flask_app.py               # http://127.0.0.1:5000
    curl -H 'Authorization: Bearer token-alice' localhost:5000/reports/r-1
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from flask import Flask, abort, jsonify
from flask.typing import ResponseReturnValue

import audit_sdk
from audit_sdk.integrations import jobs
from audit_sdk.integrations.logging_handler import AuditHandler
from audit_sdk.integrations.wsgi import WsgiAuditMiddleware

TOKENS = {"token-alice": "alice", "token-bob": "bob", "token-carol": "carol"}
ADMINS = {"carol"}
REPORTS = {"r-1": "Q3 revenue", "r-2": "salary bands"}

log = logging.getLogger("reports")
executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report-worker")
pending: list[Future[None]] = []


def actor_from_token(environ: dict[str, Any]) -> str | None:
    """Your authentication goes here: this one maps a bearer token to a user."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    return TOKENS.get(header[7:]) if header.startswith("Bearer ") else None


def configure_logging() -> AuditHandler:
    """Attach the audit handler to the `reports` logger; returns it (it counts errors)."""
    handler = AuditHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


@audit_sdk.audited("report.delete", action="DELETE", target="report_id", target_type="report")
def delete_report(report_id: str) -> None:
    if audit_sdk.current_context().actor not in ADMINS:
        abort(403)
    REPORTS.pop(report_id, None)


def render_report(report_id: str) -> None:
    """A worker job: runs on a pool thread, audited under the requesting actor."""
    audit_sdk.audit_event("report.render", action="EXECUTE", target=report_id, target_type="report")


def create_app(*, trusted_proxies: Iterable[str] = ("127.0.0.1", "::1")) -> Flask:
    app = Flask(__name__)
    app.wsgi_app = WsgiAuditMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        actor=actor_from_token,
        trusted_proxies=list(trusted_proxies),
        source_type="ip",
    )

    @app.get("/reports/<report_id>")
    def download(report_id: str) -> ResponseReturnValue:
        if report_id not in REPORTS:
            abort(404)
        log.info(
            "report %s downloaded",
            report_id,
            extra={
                "audit": {
                    "event": "report.download",
                    "action": "READ",
                    "target": report_id,
                    "target_type": "report",
                }
            },
        )
        return jsonify(id=report_id, title=REPORTS[report_id])

    @app.post("/reports/<report_id>/render")
    def render(report_id: str) -> ResponseReturnValue:
        pending.append(executor.submit(jobs.carry_context(render_report), report_id))
        return jsonify(status="queued"), 202

    @app.delete("/reports/<report_id>")
    def remove(report_id: str) -> ResponseReturnValue:
        delete_report(report_id)
        return "", 204

    return app


def main() -> None:
    configure_logging()
    audit_sdk.configure(service_name="reports-web")
    try:
        create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
    finally:
        executor.shutdown(wait=True)
        audit_sdk.shutdown()


if __name__ == "__main__":
    main()
