"""botocore's service models, loaded once per process without touching AWS configuration: a
missing or broken profile must not stop pysynth from reading a model."""

from __future__ import annotations

import functools

import botocore.loaders
import botocore.model


@functools.cache
def loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


@functools.cache
def service_model(service: str) -> botocore.model.ServiceModel:
    return botocore.model.ServiceModel(loader().load_service_model(service, "service-2"), service_name=service)


def operation_model(service: str, operation: str) -> botocore.model.OperationModel:
    return service_model(service).operation_model(operation)
