"""The `audit-sdk` command.

Each subcommand lives in `audit_sdk._cli.<module>` and exposes
`register(subparsers)`, which adds its parser and sets `handler`, a function
from the parsed arguments to an exit code. Exit codes: 0 clean, 1 findings,
2 unusable input or arguments (with a one-line reason on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from audit_sdk._errors import AuditError

__all__ = ["main"]

# Subcommand modules, in the order `--help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "keys",
    "lint_config",
    "report",
    "retention",
    "status",
    "validate_payload",
    "verify",
)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"audit-sdk: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="audit-sdk", description="Tamper-evident audit trails on OpenTelemetry.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"audit_sdk._cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except AuditError as exc:
        print(f"audit-sdk: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("audit-sdk: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
