"""Implementation of `audit-sdk lint-config` and `audit-sdk validate-payload` (private)."""
