"""Private implementation of `audit_sdk.verify` (see that module)."""
