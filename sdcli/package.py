"""The Lambda deployment package: a byte-for-byte reproducible zip of lambda_src/.

Same source, same bytes, same SHA-256, so deploy can compare against Lambda's CodeSha256 and skip the upload.
Only regular source files go in: no dotfiles (``.env``), no ``__pycache__``/``.pyc``, nothing outside the folder,
nothing reached through a symlink. boto3 is provided by the Lambda runtime and is never packaged. A file that
holds AWS credentials (an access key id, or a secret key assigned a value) stops the build: the function gets its
credentials from its execution role, and a zip is readable by anyone who may read the function.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sdcli.errors import InvalidInputError

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
EXCLUDED_DIRS = {"__pycache__"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
CREDENTIALS = re.compile(
    rb"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"  # an access key id
    rb"|(?i:aws_?secret_?access_?key|aws_?session_?token)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40,}"  # a secret, set
)


@dataclass(frozen=True)
class Package:
    data: bytes
    files: tuple[str, ...]

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def code_sha256(self) -> str:
        """The digest as Lambda reports it (base64 of the raw SHA-256)."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode()

    @property
    def size(self) -> int:
        return len(self.data)


def _included(path: Path, root: Path) -> bool:
    relative = path.relative_to(root)
    if any(part.startswith(".") for part in relative.parts):
        return False
    if any(part in EXCLUDED_DIRS for part in relative.parts[:-1]):
        return False
    return path.suffix not in EXCLUDED_SUFFIXES


SOURCE_HINT = "Pass --source with the folder of the function's code; the project's own is lambda_src/."


def package_files(source_dir: Path) -> list[Path]:
    root = source_dir.resolve()
    if not root.is_dir():
        raise InvalidInputError(f"Lambda source folder {source_dir} does not exist.", hint=SOURCE_HINT)
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or not _included(path, root):
            continue
        if not path.resolve().is_relative_to(root):  # reached through a symlinked folder
            continue
        files.append(path)
    if not files:
        raise InvalidInputError(f"Lambda source folder {source_dir} holds no files to package.", hint=SOURCE_HINT)
    return files


def build_package(source_dir: Path) -> Package:
    root = source_dir.resolve()
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in package_files(root):
            name = path.relative_to(root).as_posix()
            data = path.read_bytes()
            if CREDENTIALS.search(data):
                raise InvalidInputError(
                    f"{source_dir / name} holds what looks like AWS credentials; refusing to package it.",
                    hint="Take them out of the source folder: the function gets credentials from its role.",
                )
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the building machine is
            archive.writestr(info, data, compresslevel=9)
            names.append(name)
    return Package(data=buffer.getvalue(), files=tuple(names))
