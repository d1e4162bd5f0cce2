"""Integrations with the rest of your stack (see docs/integrations.md).

Each lives in its own module, so that importing one never imports a framework
you do not use:

- `structlog_processor.AuditProcessor`: structlog events marked `audit=True`
  become audit records.
- `structlog_context.use_structlog_context()`: `audit_event()` also reads the
  actor and request id bound with `structlog.contextvars.bind_contextvars()`.
- `logging_handler.AuditHandler`: stdlib log records carrying
  `extra={"audit": {...}}` become audit records.
- `asgi.AsgiAuditMiddleware`, `wsgi.WsgiAuditMiddleware`: bind actor, client
  address, request id and trace for each HTTP request.
- `jobs`: carry the audit context into threads and worker jobs.
"""
