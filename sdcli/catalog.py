"""The catalog table and its records: create the table, validate service records, seed them idempotently."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sdcli.aws import Aws
from sdcli.errors import AwsError, InvalidInputError, NotDeployedError
from sdcli.keys import MAX_NAME_BYTES, MAX_VERSION_BYTES, utf8_size

MAX_ITEM_BYTES = 400_000  # DynamoDB's "400 KB" item limit (names and values), read as 400,000 bytes to be safe
# A TTL every client can hold in a 32-bit integer (68 years). DynamoDB itself would take more, but not any
# integer: past 38 digits or 1e126 it fails the write, which must never happen after validation passed.
MAX_TTL = 2**31 - 1
RECORD_FIELDS = ("name", "version", "endpoint_url", "ttl", "status")
BILLING_MODES = ("PROVISIONED", "PAY_PER_REQUEST")
KEY_SCHEMA = [{"AttributeName": "name", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}]
ATTRIBUTES = [
    {"AttributeName": "name", "AttributeType": "S"},
    {"AttributeName": "version", "AttributeType": "S"},
]
BATCH_GET_SIZE = 100  # BatchGetItem's limit
BATCH_WRITE_SIZE = 25  # BatchWriteItem's limit


@dataclass(frozen=True)
class ServiceRecord:
    name: str
    version: str
    endpoint_url: str
    ttl: int
    status: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.version)

    def to_item(self) -> dict[str, dict[str, str]]:
        return {
            "name": {"S": self.name},
            "version": {"S": self.version},
            "endpoint_url": {"S": self.endpoint_url},
            "ttl": {"N": str(self.ttl)},
            "status": {"S": self.status},
        }


EXAMPLE_SERVICES = (
    ServiceRecord("testservice1", "1.0", "notarealurl1", 300, "healthy"),
    ServiceRecord("testservice2", "1.0", "notarealurl2", 600, "healthy"),
)


@dataclass(frozen=True)
class TableState:
    name: str
    status: str | None  # None: the table does not exist
    item_count: int | None = None
    arn: str | None = None
    billing_mode: str | None = None
    key_schema: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SeedResult:
    written: int
    unchanged: int
    total: int


# --- records -------------------------------------------------------------------------------------------------


class _JsonObject(dict):
    """A JSON object as parsed from a services file, remembering the keys it gave more than once."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    """json's object hook: plain ``json.loads`` silently keeps the last of two equal keys; we report them."""
    result = _JsonObject(pairs)
    if len(result) < len(pairs):
        result.duplicates = tuple(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
    return result


def _key_problem(value: Any, field: str, max_bytes: int) -> str | None:
    if not isinstance(value, str):
        return f"{field} must be a string"
    size = utf8_size(value)
    if size is None:
        return f"{field} is not valid Unicode"
    if size == 0:
        return f"{field} must not be empty"
    if size > max_bytes:
        return f"{field} is {size} bytes; DynamoDB allows at most {max_bytes}"
    return None


def _item_size(raw: dict[str, Any]) -> int:
    """DynamoDB's size of the item (UTF-8 names and values; a number counts at most 21 bytes)."""
    size = 0
    for field in RECORD_FIELDS:
        size += len(field) + (21 if field == "ttl" else utf8_size(raw[field]) or 0)
    return size


def record_problems(raw: Any) -> list[str]:
    """Everything wrong with one raw record, so a user can fix a file in one pass."""
    if not isinstance(raw, dict):
        return [f"must be an object with {', '.join(RECORD_FIELDS)}, not {type(raw).__name__}"]
    problems = [f"missing field {field!r}" for field in RECORD_FIELDS if field not in raw]
    problems += [f"unknown field {field!r}" for field in raw if field not in RECORD_FIELDS]
    problems += [f"field {field!r} is given more than once" for field in getattr(raw, "duplicates", ())]
    for field, limit in (("name", MAX_NAME_BYTES), ("version", MAX_VERSION_BYTES)):
        if field in raw and (problem := _key_problem(raw[field], field, limit)):
            problems.append(problem)
    for field in ("endpoint_url", "status"):
        if field in raw and (not isinstance(raw[field], str) or not raw[field].strip()):
            problems.append(f"{field} must be a non-empty string")
        elif field in raw and utf8_size(raw[field]) is None:
            problems.append(f"{field} is not valid Unicode")
    if "ttl" in raw:
        ttl = raw["ttl"]
        if isinstance(ttl, bool) or not isinstance(ttl, int):
            problems.append(f"ttl must be a whole number of seconds, not {_shown(ttl)}")
        elif ttl < 0:
            problems.append(f"ttl must not be negative, not {ttl}")
        elif ttl > MAX_TTL:
            problems.append(f"ttl must be at most {MAX_TTL} seconds, not {_shown(ttl)}")
    if not problems and (size := _item_size(raw)) > MAX_ITEM_BYTES:
        problems.append(f"the record is {size} bytes; DynamoDB allows at most {MAX_ITEM_BYTES} per item")
    return problems


def _shown(value: Any, limit: int = 40) -> str:
    """A wrong value as JSON, cut short: a 5,000-digit ttl must not fill the screen."""
    if isinstance(value, int) and abs(value) >= 10**30:
        return f"a {len(str(abs(value)))}-digit number"
    text = json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and isinstance(raw.get("version"), str):
        name = raw["name"] if len(raw["name"]) <= 60 else raw["name"][:57] + "..."
        return f"record {index} ({name!r} {raw['version'][:30]!r})"
    return f"record {index}"


def parse_records(data: Any) -> list[ServiceRecord]:
    """Validate every record before anything is written; report all bad ones by position and key."""
    if not isinstance(data, list):
        raise InvalidInputError("A services file must hold a JSON list of service objects.")
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    records: list[ServiceRecord] = []
    for index, raw in enumerate(data):
        found = record_problems(raw)
        if found:
            problems.append(f"{_describe(raw, index)}: {'; '.join(found)}")
            continue
        record = ServiceRecord(**{field: raw[field] for field in RECORD_FIELDS})
        if record.key in seen:
            problems.append(f"{_describe(raw, index)}: duplicate of record {seen[record.key]} (same name and version)")
            continue
        seen[record.key] = index
        records.append(record)
    if problems:
        raise InvalidInputError(
            f"{len(problems)} invalid service record(s); nothing was written.",
            problems,
            hint="Records are numbered from 0 in file order (JSON array indexes); fix them and run it again.",
        )
    return records


RECORDS_HINT = "A services file is a JSON list of objects with name, version, endpoint_url, ttl and status."


def parse_json(text: str, source: str) -> Any:
    """A services file's JSON, with duplicate keys remembered; every way it can fail is one clear error."""
    try:
        return json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}; "
            "nothing was written.",
            hint=RECORDS_HINT,
        ) from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts (sys.int_info)
        raise InvalidInputError(f"{source} cannot be read as JSON: {error}; nothing was written.") from None
    except RecursionError:
        raise InvalidInputError(f"{source} nests JSON too deeply to read; nothing was written.") from None


def load_records(path: Path) -> list[ServiceRecord]:
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is not part of the JSON.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InvalidInputError(f"Cannot read {path}: {error.strerror or error}", hint=RECORDS_HINT) from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{path} is not UTF-8 text.", hint=RECORDS_HINT) from None
    return parse_records(parse_json(text, str(path)))


def records_as_json(records: Iterable[ServiceRecord]) -> list[dict[str, Any]]:
    return [asdict(record) for record in records]


# --- table ---------------------------------------------------------------------------------------------------


def describe_table(aws: Aws, table: str) -> TableState:
    try:
        info = aws.call("dynamodb", "describe_table", TableName=table)["Table"]
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return TableState(name=table, status=None)
        raise
    billing = info.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    return TableState(
        name=table,
        status=info["TableStatus"],
        item_count=info.get("ItemCount"),
        arn=info["TableArn"],
        billing_mode=billing,
        key_schema=tuple(sorted((k["AttributeName"], k["KeyType"]) for k in info["KeySchema"])),
    )


def check_key_schema(state: TableState) -> None:
    if state.key_schema != (("name", "HASH"), ("version", "RANGE")):
        raise AwsError(
            f"Table {state.name!r} exists with a different key schema {list(state.key_schema)}; "
            "sdcli needs HASH name, RANGE version.",
            hint="Use --table to pick another table name.",
        )


def create_table(aws: Aws, table: str, billing_mode: str = "PROVISIONED", capacity: int = 10) -> None:
    params: dict[str, Any] = {
        "TableName": table,
        "KeySchema": KEY_SCHEMA,
        "AttributeDefinitions": ATTRIBUTES,
        "BillingMode": billing_mode,
    }
    if billing_mode == "PROVISIONED":
        params["ProvisionedThroughput"] = {"ReadCapacityUnits": capacity, "WriteCapacityUnits": capacity}
    aws.call("dynamodb", "create_table", **params)
    wait_table_active(aws, table)


def wait_table_active(aws: Aws, table: str) -> None:
    aws.wait("dynamodb", "table_exists", f"table {table} to become ACTIVE", TableName=table)


def delete_table(aws: Aws, table: str) -> None:
    aws.call("dynamodb", "delete_table", TableName=table)
    aws.wait("dynamodb", "table_not_exists", f"table {table} to be deleted", TableName=table)


def require_table(aws: Aws, table: str) -> TableState:
    state = describe_table(aws, table)
    if state.status is None:
        raise NotDeployedError(
            f"Table {table!r} does not exist.", hint="Create it with `sdcli table create` or `sdcli deploy`."
        )
    return state


# --- seed ----------------------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _drain(aws: Aws, operation: str, request: dict, unprocessed: str, take: Callable[[dict], None]) -> None:
    """Run a DynamoDB batch call until nothing comes back unprocessed, backing off (``aws.sleep``) while the
    table hands work back, and giving up with a clear error after ten rounds."""
    delay = 0.05
    for _ in range(10):
        response = aws.call("dynamodb", operation, RequestItems=request)
        take(response)
        request = response.get(unprocessed) or {}
        if not request:
            return
        aws.sleep(delay)
        delay = min(delay * 2, 2)
    left = sum(len(entry["Keys"]) if isinstance(entry, dict) else len(entry) for entry in request.values())
    raise AwsError(
        f"DynamoDB left {left} item(s) unprocessed after retries.",
        hint="The table is throttling; run `sdcli seed` again (it only writes what differs).",
    )


def _in_parallel(work: Callable[[Sequence[Any]], Any], chunks: list[Sequence[Any]], workers: int) -> list[Any]:
    """``work`` over every chunk, on ``workers`` threads when there is more than one chunk."""
    if len(chunks) <= 1:
        return [work(chunk) for chunk in chunks]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, chunks))


def _existing_items(
    aws: Aws, table: str, keys: Sequence[tuple[str, str]], workers: int = 4
) -> dict[tuple[str, str], dict]:
    """The stored items for these keys, so a re-seed writes only what differs; read in parallel like the writes
    (sequential, these reads were a third of a 10,000-record seed)."""
    found: dict[tuple[str, str], dict] = {}

    def read(chunk: Sequence[tuple[str, str]]) -> None:
        def take(response: dict) -> None:
            for item in response.get("Responses", {}).get(table, []):
                found[(item["name"]["S"], item["version"]["S"])] = item

        request = {table: {"Keys": [{"name": {"S": n}, "version": {"S": v}} for n, v in chunk]}}
        _drain(aws, "batch_get_item", request, "UnprocessedKeys", take)

    _in_parallel(read, list(_chunks(keys, BATCH_GET_SIZE)), workers)
    return found


def _write_batch(aws: Aws, table: str, items: Sequence[dict]) -> None:
    request = {table: [{"PutRequest": {"Item": item}} for item in items]}
    _drain(aws, "batch_write_item", request, "UnprocessedItems", lambda response: None)


def seed(aws: Aws, table: str, records: Sequence[ServiceRecord], workers: int = 4) -> SeedResult:
    """Write the records that are missing or differ; records already stored as given are left alone."""
    require_table(aws, table)
    existing = _existing_items(aws, table, [record.key for record in records], workers)
    changed = [record.to_item() for record in records if existing.get(record.key) != record.to_item()]
    _in_parallel(lambda batch: _write_batch(aws, table, batch), list(_chunks(changed, BATCH_WRITE_SIZE)), workers)
    return SeedResult(written=len(changed), unchanged=len(records) - len(changed), total=len(records))
