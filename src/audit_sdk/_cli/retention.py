"""`audit-sdk retention plan|apply`: purge what is past retention, with a signed receipt."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit_sdk._errors import AuditError
from audit_sdk._keys import load_checkpoint_private_key, load_checkpoint_public_key
from audit_sdk._retention import RetentionPlan, apply_plan, load_policy, make_plan

_DESCRIPTION = """\
plan:  shows, per stream, how many records are hot, archive-stage and past
       retention, how far the purge goes and why it stops there (a record
       under legal hold or not yet past retention: only a prefix of each
       stream is purged, so that what remains still chains).
apply: purges that prefix, writes a receipt signed with the checkpoint key to
       STORE/receipts/, and rewrites the affected trail files (temporary file,
       fsync, rename). Run it on a store that nothing appends to.

See docs/retention.md for the policy schema and the receipt format."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "retention",
        help="plan or apply a retention policy (purge with a signed receipt)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="retention_command", required=True)
    for name, help_text in (
        ("plan", "show what apply would purge, and why it stops where it does"),
        ("apply", "purge records past retention and write a signed purge receipt"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("store", type=Path, metavar="STORE", help="the trail directory")
        p.add_argument(
            "--policy", type=Path, required=True, metavar="YAML", help="retention-policy.yaml"
        )
        p.add_argument(
            "--now", metavar="ISO", help="evaluate ages at this time (default: the current time)"
        )
        p.add_argument(
            "--public-key",
            action="append",
            default=[],
            type=Path,
            metavar="PEM",
            help="check earlier receipts in STORE/receipts with this public key",
        )
        p.add_argument("--json", action="store_true", help="print the plan as JSON")
        if name == "apply":
            p.add_argument(
                "--checkpoint-key",
                type=Path,
                required=True,
                metavar="PEM",
                help="Ed25519 private key (PEM) that signs the purge receipt",
            )
        p.set_defaults(handler=run_plan if name == "plan" else run_apply)


def _now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AuditError(f"--now: {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _plan(args: argparse.Namespace) -> RetentionPlan:
    policy = load_policy(args.policy)
    keys = [load_checkpoint_public_key(p) for p in args.public_key] or None
    if keys is None and getattr(args, "checkpoint_key", None) is not None:
        keys = [load_checkpoint_private_key(args.checkpoint_key).public_key()]
    return make_plan(args.store, policy, now=_now(args.now), public_keys=keys)


def _print_plan(plan: RetentionPlan, verb: str) -> None:
    print(f"retention {verb}: {plan.store} at {plan.to_dict()['now']}, {len(plan.files)} files")
    for s in plan.streams:
        stages = ", ".join(f"{k} {v}" for k, v in s.stages.items())
        print(f"stream {s.stream_id}: records {s.first_present}..{s.last_present} ({stages})")
        if s.already_purged:
            print(f"  earlier receipts account for records 1..{s.already_purged}")
        if s.purge_count:
            print(f"  purge   records ..{s.purge_to}: {s.purge_count} records")
        else:
            print("  purge   nothing")
        if s.stopped_at is not None:
            print(f"  keep    from record {s.stopped_at}: {s.stop_reason}")
        for hold, count in sorted(s.held.items()):
            print(f"  hold    {hold}: {count} records")
    print(f"total: {plan.purge_count} records to purge")


def run_plan(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if args.json:
        sys.stdout.write(json.dumps(plan.to_dict(), indent=2) + "\n")
    else:
        _print_plan(plan, "plan")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    private_key = load_checkpoint_private_key(args.checkpoint_key)
    plan = _plan(args)
    receipt = apply_plan(plan, private_key)
    if args.json:
        out = plan.to_dict()
        out["receipt"] = receipt
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        _print_plan(plan, "apply")
        print(f"receipt: {receipt}" if receipt else "receipt: none (no new purge to record)")
    return 0
