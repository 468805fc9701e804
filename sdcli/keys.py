"""DynamoDB's rules for the catalog's keys, shared by seed validation and the lookup client.

Kept free of AWS imports so that ``sdcli lookup`` can check a NAME and VERSION without loading botocore.
"""

from __future__ import annotations

MAX_NAME_BYTES = 2048  # DynamoDB's partition-key limit
MAX_VERSION_BYTES = 1024  # DynamoDB's sort-key limit


def utf8_size(value: str) -> int | None:
    """Bytes in UTF-8, or None for text DynamoDB cannot store (a lone surrogate)."""
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return None
