"""C hot path of `audit-sdk verify` for plain OTLP-JSON log records (see _cscan.c).

`scan(line)` is None when the line must be read in Python; otherwise one item per
log record in document order:

- None for a record that is not plain (Python reads it);
- `Checked`, (record hash, stream id, number, record id, previous (hash, record id)
  or None, entry flags, checkpoint (covered number, covered hash, signature, key
  id) or None, timestamp), for a record about which `_scan._check_record` has
  nothing to report: the arguments of `_scan._place`;
- `Read`, (canonical bytes, record hash, MAC verified, wanted attribute values,
  event name, timestamp), for the other plain records: Python checks them.
"""

from typing import TypeAlias

Read: TypeAlias = tuple[bytes, str, bool, dict[str, dict[str, object]], str, int]
Checked: TypeAlias = tuple[
    str,
    str,
    int,
    str,
    tuple[str | None, str | None] | None,
    int,
    tuple[int, str, str | None, str | None] | None,
    int,
]

class Scanner:
    def __init__(self, keys: dict[str, bytes] | None, wanted: tuple[str, ...]) -> None: ...
    def scan(self, line: bytes) -> list[Checked | Read | None] | None: ...
