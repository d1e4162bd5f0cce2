"""Keyed pseudonyms for personal data in audit records (see docs/pii.md).

    from audit_sdk.pii import Pseudonymizer

    pii = Pseudonymizer.generate(details=("email", "customer.phone"), source=True)
    audit_sdk.configure(service_name="billing", pseudonymize=pii)
    audit_sdk.audit_event("invoice.export", action="EXPORT", actor="alice@example.com")
    # audit.actor.id = "pii:default:k5x2..." -- the same token for every record of alice

Fields marked sensitive are replaced *before* the record is signed by
`pii:<key id>:<token>`, where the token is HMAC-SHA256 under the pseudonym key
(a key of its own, never an HMAC signing key). The same value gives the same
token under the same key, in any field, so records still join by person.
Destroying the pseudonym key erases the link between tokens and people while
every MAC, hash chain and checkpoint of the trail stays valid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from audit_sdk import _names as n
from audit_sdk._errors import KeyConfigurationError

__all__ = ["ENV_PII_KEY", "ENV_PII_KEY_ID", "PSEUDONYM_PREFIX", "Pseudonymizer"]

PSEUDONYM_PREFIX = "pii"
ENV_PII_KEY = "AUDIT_SDK_PII_KEY"
ENV_PII_KEY_ID = "AUDIT_SDK_PII_KEY_ID"
MIN_PII_KEY_BYTES = 32
TOKEN_BYTES = 16  # 128 bits: 26 base32 characters
_DOMAIN = b"audit-sdk pseudonym v1\n"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class Pseudonymizer:
    """Replaces the values of sensitive fields by keyed pseudonyms, before signing.

    Sensitive fields:

    - `actor`: `audit.actor.id`, for actors whose type is in `actor_types`
      (default: only `user`; service and system actors stay readable). The SDK's
      `anonymous` placeholder is never replaced.
    - `target`: `audit.target.id` (and its mirror `cloudevents.event_subject`).
    - `source`: `audit.source.id` (a client address is personal data in many laws).
    - `details`: keys of the details mapping; a dotted name (`customer.email`)
      reaches into nested mappings. Strings, numbers and the members of lists and
      mappings under a named key are replaced; booleans and null are kept.
    - `attributes`: names of your own attributes.

    A pseudonym reads `pii:<key_id>:<26 base32 characters>`. Rotating the key
    (a new key id) starts new tokens, which do not join with the old ones.
    """

    __slots__ = (
        "_actor",
        "_actor_types",
        "_attributes",
        "_details",
        "_key",
        "_prefix",
        "_source",
        "_target",
        "key_id",
    )

    def __init__(
        self,
        key: bytes,
        *,
        key_id: str = "default",
        actor: bool = True,
        actor_types: Iterable[str] = ("user",),
        target: bool = False,
        source: bool = False,
        details: Iterable[str] = (),
        attributes: Iterable[str] = (),
    ) -> None:
        if not isinstance(key, (bytes, bytearray)):
            raise KeyConfigurationError("the pseudonym key must be bytes")
        if len(key) < MIN_PII_KEY_BYTES:
            raise KeyConfigurationError(
                f"the pseudonym key is {len(key)} bytes; at least {MIN_PII_KEY_BYTES} required"
            )
        if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
            raise KeyConfigurationError(
                "the pseudonym key id must be 1-64 characters of A-Z a-z 0-9 _ . -"
            )
        self._key = bytes(key)
        self.key_id = key_id
        self._prefix = f"{PSEUDONYM_PREFIX}:{key_id}:"
        self._actor = bool(actor)
        self._actor_types = frozenset(actor_types)
        self._target = bool(target)
        self._source = bool(source)
        self._details = _paths(details, "details")
        attribute_names = frozenset(attributes)
        for name in attribute_names:
            if not isinstance(name, str) or not name:
                raise KeyConfigurationError("sensitive attribute names must be non-empty strings")
            if name.startswith(n.RESERVED_PREFIXES):
                raise KeyConfigurationError(
                    f"attribute {name!r}: use actor=, target= or source= for audit.* fields"
                )
        self._attributes = attribute_names

    def __repr__(self) -> str:
        return (
            f"Pseudonymizer(key_id={self.key_id!r}, actor={self._actor}, target={self._target}, "
            f"source={self._source}, details={sorted('.'.join(p) for p in self._details)!r}, "
            f"attributes={sorted(self._attributes)!r})"
        )

    @classmethod
    def generate(cls, *, key_id: str = "default", **fields: Any) -> Pseudonymizer:
        """A pseudonymizer with a fresh random key (keep the key to re-identify later)."""
        return cls(secrets.token_bytes(32), key_id=key_id, **fields)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **fields: Any
    ) -> Pseudonymizer | None:
        """From `AUDIT_SDK_PII_KEY` (standard base64) and `AUDIT_SDK_PII_KEY_ID`; None if unset."""
        env = os.environ if environ is None else environ
        encoded = env.get(ENV_PII_KEY)
        if not encoded:
            return None
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            raise KeyConfigurationError(f"{ENV_PII_KEY} is not valid standard base64") from None
        return cls(key, key_id=env.get(ENV_PII_KEY_ID) or "default", **fields)

    def uses_key(self, key: bytes) -> bool:
        """Whether `key` is this pseudonymizer's key (to refuse sharing it with signing)."""
        return hmac.compare_digest(self._key, bytes(key))

    def pseudonym(self, value: str | int | float) -> str:
        """The token for `value`: the same value always gives the same token under this key.

        Use it to find a person's records (subject access) while the key exists.
        """
        if isinstance(value, bool):
            raise TypeError("booleans are not pseudonymized")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError("only finite numbers can be pseudonymized")
            text = repr(value)
        else:
            text = str(value)
        digest = hmac.new(self._key, _DOMAIN + text.encode("utf-8"), hashlib.sha256).digest()
        token = base64.b32encode(digest[:TOKEN_BYTES]).decode("ascii").rstrip("=").lower()
        return self._prefix + token

    # -- applied by AuditLogger.emit, before the record is signed -------------

    def apply(
        self,
        attrs: dict[str, Any],
        details: Mapping[str, Any] | None,
        attributes: Mapping[str, Any] | None,
    ) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """Replace sensitive values in `attrs` (in place), details and attributes (copied)."""
        if (
            self._actor
            and attrs[n.ACTOR_TYPE] in self._actor_types
            and attrs[n.ACTOR_ID] != "anonymous"
        ):
            attrs[n.ACTOR_ID] = self.pseudonym(attrs[n.ACTOR_ID])
        if self._target and n.TARGET_ID in attrs:
            attrs[n.TARGET_ID] = attrs[n.CE_SUBJECT] = self.pseudonym(attrs[n.TARGET_ID])
        if self._source and n.SOURCE_ID in attrs:
            attrs[n.SOURCE_ID] = self.pseudonym(attrs[n.SOURCE_ID])
        if self._details and isinstance(details, Mapping):
            details = self._replace_paths(details, self._details)
        if self._attributes and isinstance(attributes, Mapping):
            attributes = {
                key: self._replace(value) if key in self._attributes else value
                for key, value in attributes.items()
            }
        return details, attributes

    def _replace_paths(
        self, mapping: Mapping[Any, Any], paths: frozenset[tuple[str, ...]]
    ) -> dict[Any, Any]:
        here = {path[0] for path in paths if len(path) == 1}
        deeper: dict[str, set[tuple[str, ...]]] = {}
        for path in paths:
            if len(path) > 1:
                deeper.setdefault(path[0], set()).add(path[1:])
        out: dict[Any, Any] = {}
        for key, value in mapping.items():
            if key in here:
                out[key] = self._replace(value)
            elif key in deeper and isinstance(value, Mapping):
                out[key] = self._replace_paths(value, frozenset(deeper[key]))
            else:
                out[key] = value
        return out

    def _replace(self, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return self.pseudonym(value)
        if isinstance(value, int):
            return self.pseudonym(value)
        if isinstance(value, float):
            # non-finite numbers are left for validation to refuse with its own message
            return self.pseudonym(value) if math.isfinite(value) else value
        if isinstance(value, Mapping):
            return {key: self._replace(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._replace(item) for item in value]
        return value  # anything else is refused by validation as it would be without PII


def _paths(names: Iterable[str], what: str) -> frozenset[tuple[str, ...]]:
    if isinstance(names, str):
        raise KeyConfigurationError(f"{what}= takes a list of names, not one string")
    out = set()
    for name in names:
        if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
            raise KeyConfigurationError(f"{what}: {name!r} is not a key name or dotted path")
        out.add(tuple(name.split(".")))
    return frozenset(out)
