"""End-to-end tests of the otelcol-audit collector distribution."""
