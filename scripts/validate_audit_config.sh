#!/usr/bin/env bash
# Lint audit pipeline configurations with `audit-sdk lint-config`, for shell
# pipelines and CI. Exit status: 0 clean, 1 findings, 2 unusable input.
#
#   scripts/validate_audit_config.sh                  # our shipped configs
#   scripts/validate_audit_config.sh FILE...          # your files (lint-config arguments)
#   scripts/validate_audit_config.sh -c base.yaml -c overlay.yaml
#
# With no argument it lints collector/otelcol-audit.yaml alone, the base merged
# with each collector/overlays/*.yaml, and the Fluent Bit configurations in
# collector/. The command used is $AUDIT_SDK if set, else the project's
# .venv/bin/audit-sdk, else `audit-sdk` on PATH, else `python3 -m audit_sdk.cli`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ -n "${AUDIT_SDK:-}" ]]; then
  read -r -a cmd <<<"$AUDIT_SDK"
elif [[ -x "$root/.venv/bin/audit-sdk" ]]; then
  cmd=("$root/.venv/bin/audit-sdk")
elif command -v audit-sdk >/dev/null 2>&1; then
  cmd=(audit-sdk)
else
  cmd=(python3 -m audit_sdk.cli)
fi

if [[ $# -gt 0 ]]; then
  exec "${cmd[@]}" lint-config "$@"
fi

cd "$root"
shopt -s nullglob
base=collector/otelcol-audit.yaml
files=("$base" collector/overlays/*.yaml collector/fluent-bit*.conf collector/fluent-bit*.yaml)
exec "${cmd[@]}" lint-config --base "$base" "${files[@]}"
