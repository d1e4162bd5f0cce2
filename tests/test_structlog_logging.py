"""structlog processor and context, stdlib logging handler: through the real libraries."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, clear_contextvars

import audit_sdk
from audit_sdk.integrations.logging_handler import AuditHandler
from audit_sdk.integrations.structlog_context import (
    stop_using_structlog_context,
    use_structlog_context,
)
from audit_sdk.integrations.structlog_processor import AuditProcessor
from audit_sdk.testing import capture_audit_records


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """structlog configured as an application would, rendering JSON lines into a buffer."""
    out = io.StringIO()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            AuditProcessor(detail_keys=("fmt",)),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    clear_contextvars()
    yield out
    clear_contextvars()
    structlog.reset_defaults()
    stop_using_structlog_context()


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_marked_events_become_records_and_pass_on(log_output: io.StringIO) -> None:
    log = structlog.get_logger()
    with capture_audit_records() as audit:
        log.info(
            "invoice.export",
            audit=True,
            action="EXPORT",
            actor="alice",
            target="inv-1",
            outcome="success",
            fmt="csv",
            details={"rows": 3},
        )
        log.info("just a log line", fmt="csv")
    [record] = audit.events
    assert record.event_name == "invoice.export"
    assert (record.action, record.actor, record.outcome) == ("EXPORT", "alice", "success")
    assert record.attributes["audit.target.id"] == "inv-1"
    assert record.details == {"rows": 3, "fmt": "csv"}
    first, second = lines(log_output)
    assert "audit" not in first
    assert first["audit_record_id"] == record.record_id
    assert first["event"] == "invoice.export" and first["fmt"] == "csv"
    assert "audit_record_id" not in second


def test_marker_mapping_and_contextvars_merge(log_output: io.StringIO) -> None:
    log = structlog.get_logger()
    with capture_audit_records() as audit, bound_contextvars(actor="bob", request_id="req-9"):
        log.warning(
            "exported the invoice",
            audit={"audit_event_name": "invoice.export", "action": "EXPORT", "outcome": "failure"},
        )
    [record] = audit.events
    assert record.event_name == "invoice.export"
    assert (record.actor, record.outcome) == ("bob", "failure")
    assert record.attributes["audit.request.id"] == "req-9"
    [line] = lines(log_output)
    assert "action" not in line  # the marker's keys stay out of the log line


def test_refused_event_raises_by_default_or_is_counted() -> None:
    processor = AuditProcessor()
    with capture_audit_records() as audit:
        with pytest.raises(audit_sdk.InvalidAuditEvent, match="action"):
            processor(None, "info", {"event": "invoice.export", "audit": True})
        lenient = AuditProcessor(raise_errors=False)
        out = lenient(None, "info", {"event": "not a name", "audit": True, "action": "READ"})
        assert "event_name" in str(out["audit_error"])
        assert (lenient.errors, lenient.emitted) == (1, 0)
        assert audit.events == []


def test_audit_event_reads_structlog_contextvars(log_output: io.StringIO) -> None:
    with capture_audit_records() as audit:
        bind_contextvars(actor="carol", request_id="req-1", user_id=42)
        audit_sdk.audit_event("a.b", action="READ")  # not enabled yet: not read
        use_structlog_context()
        audit_sdk.audit_event("a.b", action="READ")
        with audit_sdk.context(actor="dave"):  # the audit context wins over structlog
            audit_sdk.audit_event("a.b", action="READ")
        audit_sdk.audit_event("a.b", action="READ", actor="erin")  # an argument wins over all
        use_structlog_context(actor="user_id")
        audit_sdk.audit_event("a.b", action="READ")
        stop_using_structlog_context()
        audit_sdk.audit_event("a.b", action="READ")
    actors = [r.actor for r in audit.events]
    assert actors == ["anonymous", "carol", "dave", "erin", "42", "anonymous"]
    request_ids = [r.attributes.get("audit.request.id") for r in audit.events]
    assert request_ids == [None, "req-1", "req-1", "req-1", "req-1", None]


async def test_structlog_context_follows_asyncio_tasks(log_output: io.StringIO) -> None:
    use_structlog_context()

    async def job(name: str) -> None:
        await asyncio.sleep(0.01)
        audit_sdk.audit_event("job.run", action="EXECUTE", target=name)

    with capture_audit_records() as audit:
        tasks = []
        for actor in ("u1", "u2", "u3"):
            with bound_contextvars(actor=actor):
                tasks.append(asyncio.create_task(job(f"job-{actor}")))
        await asyncio.gather(*tasks)
    got = {r.attributes["audit.target.id"]: r.actor for r in audit.events}
    assert got == {"job-u1": "u1", "job-u2": "u2", "job-u3": "u3"}


# -- stdlib logging -----------------------------------------------------------


@pytest.fixture
def app_log() -> Iterator[tuple[logging.Logger, AuditHandler, io.StringIO]]:
    log = logging.getLogger("test.app.audit")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = AuditHandler()
    text = io.StringIO()
    plain = logging.StreamHandler(text)
    plain.setFormatter(logging.Formatter("%(message)s id=%(audit_record_id)s"))
    log.addHandler(handler)
    log.addHandler(plain)  # after the audit handler: sees the record id
    yield log, handler, text
    log.removeHandler(handler)
    log.removeHandler(plain)


def test_logging_records_with_audit_extra(
    app_log: tuple[logging.Logger, AuditHandler, io.StringIO],
) -> None:
    log, handler, text = app_log
    with capture_audit_records() as audit, audit_sdk.context(actor="alice", request_id="r-1"):
        log.info(
            "invoice %s exported",
            "inv-1",
            extra={
                "audit": {
                    "event": "invoice.export",
                    "action": "EXPORT",
                    "target": "inv-1",
                    "details": {"format": "csv"},
                }
            },
        )
        try:
            raise PermissionError("no")
        except PermissionError:
            log.exception(
                "delete refused",
                extra={"audit": {"event": "invoice.delete", "action": "DELETE"}},
            )
    export, refused = audit.events
    assert (export.event_name, export.actor) == ("invoice.export", "alice")
    assert export.outcome == "success"
    assert export.details == {"format": "csv"}
    assert export.attributes["audit.request.id"] == "r-1"
    assert refused.outcome == "failure"
    assert refused.attributes["error.type"] == "PermissionError"
    assert (handler.emitted, handler.errors) == (2, 0)
    assert f"invoice inv-1 exported id={export.record_id}" in text.getvalue()


def test_logging_handler_never_raises(
    app_log: tuple[logging.Logger, AuditHandler, io.StringIO],
    capsys: pytest.CaptureFixture[str],
) -> None:
    log, handler, _ = app_log
    with capture_audit_records() as audit:
        log.info("m", extra={"audit": {"event": "a.b"}})  # no action
        log.info("m", extra={"audit": {"event": "a.b", "action": "read"}})  # not upper-case
        log.info("m", extra={"audit": "yes"})
        log.info("m", extra={"audit": {"event": "a.b", "action": "READ", "bogus": 1}})
        log.info("not audited")
        assert audit.events == []
    audit_sdk.shutdown()
    log.info("m", extra={"audit": {"event": "a.b", "action": "READ"}})  # not configured
    assert handler.errors == 5 and handler.emitted == 0
    assert "AuditNotConfigured" in (handler.last_error or "")
    assert "--- Logging error ---" in capsys.readouterr().err


def test_logging_message_key(app_log: tuple[logging.Logger, AuditHandler, io.StringIO]) -> None:
    log, handler, _ = app_log
    handler.message_key = "message"
    with capture_audit_records() as audit:
        log.info("hello %s", "world", extra={"audit": {"event": "a.b", "action": "READ"}})
    assert audit.events[0].details == {"message": "hello world"}
