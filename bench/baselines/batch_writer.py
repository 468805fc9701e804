"""Goal 5's baseline: a bare boto3 ``batch_writer`` loop over a services file, as one would write it by hand.

Usage: python batch_writer.py ENDPOINT_URL TABLE FILE   (prints the number of records written)
"""

from __future__ import annotations

import json
import sys

import boto3


def main(endpoint_url: str, table_name: str, path: str) -> int:
    """Write every record of the file; no validation, no diffing, one writer."""
    with open(path, encoding="utf-8") as handle:
        records = json.load(handle)
    table = boto3.resource("dynamodb", endpoint_url=endpoint_url).Table(table_name)
    with table.batch_writer() as batch:
        for record in records:
            batch.put_item(Item=record)
    return len(records)


if __name__ == "__main__":
    print(main(*sys.argv[1:4]))
