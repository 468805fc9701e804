"""What is deployed right now, from describe calls only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sdcli import api as api_ops
from sdcli import catalog
from sdcli import function as fn
from sdcli.aws import Aws
from sdcli.config import Settings


@dataclass(frozen=True)
class DeploymentStatus:
    table: catalog.TableState
    function: fn.FunctionState
    api: api_ops.ApiState
    stage: api_ops.StageState | None
    url: str | None

    @property
    def serving(self) -> bool:
        """Whether an API stage is deployed, i.e. clients are being answered from what is below it."""
        return bool(self.api.api_id and self.stage is not None and self.stage.exists)

    def problems(self) -> list[str]:
        """Everything that keeps the catalog from answering, in words; empty exactly when healthy."""
        found = []
        if not self.serving and self.api.api_id is None:
            found.append("nothing is serving lookups: no API is deployed; run `sdcli deploy`")
        elif not self.serving:
            found.append(f"stage {self.stage.name!r} is not deployed; run `sdcli api deploy`")  # type: ignore[union-attr]
        if self.table.status is None:
            reads = self.function_table
            if not self.serving or reads not in (None, self.table.name):
                found.append(
                    f"table {self.table.name!r} does not exist; run `sdcli deploy`"
                    + (f" (the deployed function reads table {reads!r})" if reads else "")
                )
            else:
                found.append(
                    f"table {self.table.name!r} is gone: every lookup fails (HTTP 500) until "
                    "`sdcli deploy` recreates it and `sdcli seed` refills it"
                )
        if self.function.arn is None:
            found.append(
                f"function {self.function.name!r} does not exist"
                + (": every lookup fails until `sdcli deploy`" if self.serving else "; run `sdcli deploy`")
            )
        return found

    @property
    def function_table(self) -> str | None:
        """The table the deployed function reads (its TABLE_NAME), which may not be --table."""
        variables = ((self.function.configuration or {}).get("Environment") or {}).get("Variables") or {}
        return variables.get("TABLE_NAME")

    def rows(self) -> list[tuple[str, str, str, str]]:
        if self.table.status:
            table_detail = f"{self.table.item_count} item(s)"
        elif self.serving and self.function_table in (None, self.table.name):
            table_detail = "gone: lookups fail (500) until `sdcli deploy`, then `sdcli seed`"
        else:
            table_detail = "run `sdcli deploy`"
        rows = [("table", self.table.name, self.table.status or "missing", table_detail)]
        if self.function.arn:
            rows.append(
                (
                    "function",
                    self.function.name,
                    (self.function.configuration or {}).get("State", "Active"),
                    f"{self.function.arn}  code {fn.code_hex(self.function.code_sha256)}",
                )
            )
        else:
            rows.append(("function", self.function.name, "missing", "run `sdcli deploy`"))
        rows.append(
            (
                "api",
                self.api.name,
                "deployed" if self.api.api_id else "missing",
                f"id {self.api.api_id}  spec {self.api.spec_digest}" if self.api.api_id else "run `sdcli deploy`",
            )
        )
        if self.stage is not None:
            behind = self.stage.exists and self.stage.spec_digest != self.api.spec_digest
            rows.append(
                (
                    "stage",
                    self.stage.name,
                    "deployed" if self.stage.exists else "missing",
                    (
                        f"deployment {self.stage.deployment_id}"
                        + ("  (behind the API: run `sdcli api deploy`)" if behind else "")
                    )
                    if self.stage.exists
                    else "run `sdcli api deploy`",
                )
            )
        return rows

    @property
    def healthy(self) -> bool:
        return not self.problems()

    def as_json(self) -> dict[str, Any]:
        function = asdict(self.function)
        function.pop("configuration", None)
        return {
            "table": asdict(self.table),
            "function": function,
            "api": asdict(self.api),
            "stage": asdict(self.stage) if self.stage else None,
            "url": self.url,
            "healthy": self.healthy,
            "problems": self.problems(),
        }


def describe_deployment(aws: Aws, settings: Settings) -> DeploymentStatus:
    table = catalog.describe_table(aws, settings.table)
    function = fn.describe_function(aws, settings.function)
    api = api_ops.find_api(aws, settings.api)
    stage = api_ops.describe_stage(aws, api.api_id, settings.stage) if api.api_id else None
    url = (
        api_ops.invoke_url(api.api_id, settings.stage, aws.region, aws.endpoint_url) if stage and stage.exists else None
    )
    return DeploymentStatus(table=table, function=function, api=api, stage=stage, url=url)
