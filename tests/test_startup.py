"""What makes a short command start fast, checked for staying correct: model loading and collection."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import botocore.exceptions
import botocore.loaders
import botocore.session
import pytest

from sdcli import startup
from sdcli.aws import _PlainJsonFiles, _ServiceModels

SERVICES = ("dynamodb", "iam", "lambda", "apigateway", "sts")


@pytest.fixture
def models() -> _ServiceModels:
    return _ServiceModels(file_loader=_PlainJsonFiles())


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("type_name", ["service-2", "paginators-1", "endpoint-rule-set-1"])
def test_models_load_as_botocore_loads_them(models: _ServiceModels, service: str, type_name: str) -> None:
    ours = models.load_service_model(service, type_name)
    theirs = botocore.loaders.create_loader().load_service_model(service, type_name)
    assert ours == theirs  # plain dicts equal to botocore's OrderedDicts, key for key
    assert list(ours) == list(theirs)  # and in the same order


def test_a_service_with_no_models_is_still_unknown(models: _ServiceModels) -> None:
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        models.load_service_model("no-such-service", "service-2")
    with pytest.raises(botocore.exceptions.DataNotFoundError):
        models.load_service_model("dynamodb", "no-such-model-1")
    assert "dynamodb" in models.list_available_services("service-2")


def test_clients_made_with_our_models_serialize_requests(models: _ServiceModels) -> None:
    session = botocore.session.get_session()
    session.register_component("data_loader", models)
    session.set_credentials("test", "test")
    client = session.create_client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    request = client._serializer.serialize_to_request(
        {"TableName": "Services"}, client.meta.service_model.operation_model("DescribeTable")
    )
    assert request["headers"]["X-Amz-Target"] == "DynamoDB_20120810.DescribeTable"


@pytest.fixture
def collector() -> Iterator[None]:
    """Leave the collector and the module's state as they were."""
    was_enabled = gc.isenabled()
    yield
    startup._deferred = False
    gc.unfreeze()
    (gc.enable if was_enabled else gc.disable)()


@pytest.mark.usefixtures("collector")
def test_start_up_defers_collection_until_it_is_done() -> None:
    gc.enable()
    startup.defer_collection()
    assert not gc.isenabled()
    startup.startup_done()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what start-up built is out of later collections' way


@pytest.mark.usefixtures("collector")
def test_start_up_leaves_a_collector_it_did_not_turn_off_alone() -> None:
    gc.disable()  # a program importing sdcli that runs without the collector keeps it off
    startup.defer_collection()
    startup.startup_done()
    assert not gc.isenabled()
