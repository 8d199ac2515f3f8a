"""botocore's service models, loaded once per process without touching AWS configuration: a
missing or broken profile must not stop pysynth from reading a model."""

from __future__ import annotations

import functools
import gzip
import os

import botocore.exceptions
import botocore.loaders
import botocore.model
import botocore.waiter
import orjson

# Resource identifiers that name or address a resource (not a CIDR block or an IP that identify a
# route or an address).
NAMING_IDENTIFIERS = frozenset(("Name", "Id", "Arn", "Url"))


class ModelFileLoader(botocore.loaders.JSONFileLoader):
    """botocore's model files, parsed with orjson: botocore's own parsing (the standard library
    with an OrderedDict hook) is a good part of the start-up of a run, and dicts keep order too."""

    def load_file(self, file_path):
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            if os.path.isfile(file_path + suffix):
                with opener(file_path + suffix, "rb") as model_file:
                    content = model_file.read()
                try:
                    return orjson.loads(content)
                except orjson.JSONDecodeError:
                    break  # something orjson does not take (an integer beyond 64 bits): botocore's way
        return super().load_file(file_path)


@functools.cache
def loader() -> botocore.loaders.Loader:
    """The one loader of the process (the reading layer's too): each model file is parsed once."""
    return botocore.loaders.Loader(file_loader=ModelFileLoader())


@functools.cache
def service_model(service: str) -> botocore.model.ServiceModel:
    return botocore.model.ServiceModel(loader().load_service_model(service, "service-2"), service_name=service)


@functools.cache
def operation_model(service: str, operation: str) -> botocore.model.OperationModel:
    return service_model(service).operation_model(operation)


def api_error_code(service: str, logged: str) -> str:
    """The error code the API answers with (what botocore's ClientError carries), for an error
    code as a log spells it: CloudTrail prefixes EC2's with ``Client.`` and names IAM's by the
    error's shape (``NoSuchEntityException`` for the code ``NoSuchEntity``)."""
    code = logged.split(".", 1)[1] if logged.startswith(("Client.", "Server.")) else logged
    model = service_model(service)
    if code in model.shape_names:
        shape = model.shape_for(code)
        return shape.metadata.get("error", {}).get("code") or code
    return code


@functools.cache
def idempotency_tokens(service: str, operation: str) -> tuple[str, ...]:
    """The request's top-level members that botocore fills with a fresh token when left out."""
    shape = operation_model(service, operation).input_shape
    if shape is None:
        return ()
    return tuple(member for member, member_shape in shape.members.items() if member_shape.metadata.get("idempotencyToken"))


@functools.cache
def _boto3_loader() -> botocore.loaders.Loader:
    """botocore's loader that also searches boto3's data: the resource models live there."""
    import os

    import boto3

    found = botocore.loaders.create_loader()
    found.search_paths.append(os.path.join(os.path.dirname(boto3.__file__), "data"))
    return found


@functools.cache
def waiter_model(service: str) -> botocore.waiter.WaiterModel | None:
    """The service's waiters (``waiters-2.json``), or None when it has none."""
    try:
        return botocore.waiter.WaiterModel(loader().load_service_model(service, "waiters-2"))
    except botocore.exceptions.DataNotFoundError:
        return None


@functools.cache
def waiters_of_operation(service: str, operation: str) -> tuple[str, ...]:
    """The names of the waiters that poll ``operation``, in the model's order."""
    model = waiter_model(service)
    if model is None:
        return ()
    return tuple(name for name in model.waiter_names if model.get_waiter(name).operation == operation)


@functools.cache
def paginated_operations(service: str) -> frozenset[str]:
    """The operations botocore has a paginator for (``paginators-1.json``): their reads can return
    a list in pages."""
    try:
        return frozenset(loader().load_service_model(service, "paginators-1")["pagination"])
    except botocore.exceptions.DataNotFoundError:
        return frozenset()


@functools.cache
def resource_model(service: str) -> dict | None:
    """boto3's resource model of the service (``resources-1.json``), or None when it has none."""
    try:
        return _boto3_loader().load_service_model(service, "resources-1")
    except botocore.exceptions.DataNotFoundError:
        return None


@functools.cache
def resource_identifier_members(service: str) -> frozenset[str]:
    """Request members that boto3's resource model fills from a resource's name, id, URL or ARN
    (sqs ``QueueUrl`` from a Queue's ``Url``): whatever the member is called, it names a resource."""
    model = resource_model(service)
    if model is None:
        return frozenset()
    members: set[str] = set()
    pending = [model]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            target = node.get("target")
            if (node.get("source") == "identifier" and node.get("name") in NAMING_IDENTIFIERS
                    and isinstance(target, str) and target.isidentifier()):
                members.add(target)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(members)


@functools.cache
def paginator_config(service: str, operation: str) -> dict | None:
    """botocore's paginator of the operation (``paginators-1.json``: its input tokens, limit key and
    result keys), or None when the operation answers in one response (what ``can_paginate`` tells)."""
    try:
        model = loader().load_service_model(service, "paginators-1")
    except botocore.exceptions.DataNotFoundError:
        return None
    return model["pagination"].get(operation)


def starting_tokens(service: str, operation: str) -> frozenset[str]:
    """The request members that name the page a paginated read starts at (its paginator's input
    tokens: ``ContinuationToken``, ``Marker``); none for a read in one response."""
    config = paginator_config(service, operation)
    tokens = config["input_token"] if config else []
    return frozenset([tokens] if isinstance(tokens, str) else tokens)
