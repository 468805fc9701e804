"""The Lambda package: its size and what it holds (boto3 is in the Lambda runtime and must not be packaged)."""

from __future__ import annotations

import io
import zipfile

from bench.harness import ROOT, Options, Row


def run(options: Options) -> list[Row]:
    """Build the package as deploy does and list it; no stack needed."""
    from sdcli.package import build_package

    built = build_package(ROOT / "lambda_src")
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        entries = [(info.filename, info.file_size) for info in archive.infolist()]
    bundled = [name for name, _ in entries if name.split("/")[0] in ("boto3", "botocore", "s3transfer", "moto")]
    contents = ", ".join(f"{name} ({size:,} B)" for name, size in entries)
    return [
        Row(
            "pkg",
            "Lambda package: size (zip) and contents; no boto3/botocore",
            f"{built.size:,} B zip",
            "-",
            None,
            "check",
            extra_ok=not bundled and bool(entries),
            note=f"package contents: {contents}; sha256 {built.sha256_hex[:16]}; bundled SDKs: {bundled or 'none'}",
            data={"size": built.size, "files": entries},
        )
    ]
