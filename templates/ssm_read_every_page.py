"""pysynth's aws:executeScript step for a read with a list output: every page of the read, through
botocore's paginator, where aws:executeAwsApi returns the first page only.

InputPayload gives the call (Service, Api, Request, in which Automation substitutes references) and,
for each output, the steps of its path: a member name, a list index, "*" for every element of a list,
or {"Property": [...], "Test": ..., "Value": ...} for the elements that meet a condition. The script
returns each output under its name; the step's outputs select it from $.Payload.
"""

import base64
import json

import boto3
from botocore import xform_name
from botocore.session import get_session


def read_every_page(events, context):
    client = boto3.client(events["Service"])
    # From the first page, whatever page the logged call asked for: without the paginator's tokens.
    tokens = get_session().get_paginator_model(events["Service"]).get_paginator(events["Api"])["input_token"]
    tokens = [tokens] if isinstance(tokens, str) else tokens
    request = {member: value for member, value in events["Request"].items() if member not in tokens}
    request = fitted(request, client.meta.service_model.operation_model(events["Api"]).input_shape)
    paths = events["Outputs"]
    lists = {name for name, path in paths.items() if any(step == "*" or isinstance(step, dict) for step in path)}
    outputs = {name: [] for name in lists}
    for number, page in enumerate(client.get_paginator(xform_name(events["Api"])).paginate(**request)):
        for name, path in paths.items():
            found = reached(page, path)
            if name in lists:
                outputs[name] += found
            elif number == 0 and found:
                outputs[name] = found[0]  # a single value is the first page's, as one call gives it
    return json.loads(json.dumps(outputs, default=as_text))


def as_text(value):
    """Timestamps as ISO 8601 text and binary data as base64, as aws:executeAwsApi gives them."""
    return base64.b64encode(value).decode() if isinstance(value, (bytes, bytearray)) else value.isoformat()


def reached(value, path):
    """Every value the path reaches, flattened as JSONPath does."""
    found = [value]
    for step in path:
        following = []
        for item in found:
            if isinstance(step, int):
                following += [item[step]] if isinstance(item, list) and step < len(item) else []
            elif isinstance(step, str) and step != "*":
                following += [item[step]] if isinstance(item, dict) and step in item else []
            elif isinstance(item, list):
                following += [element for element in item if step == "*" or meets(element, step)]
        found = following
    return found


def meets(element, condition):
    """Whether the element's property equals the value, starts with it, or (a tag list) holds a tag
    with that key: pysynth.paths.meets."""
    found = reached(element, condition["Property"])
    value = found[0] if found else None
    if condition["Test"] == "equals":
        return value is not None and (json.dumps(value) if isinstance(value, bool) else str(value)) == condition["Value"]
    if condition["Test"] == "prefix":
        return isinstance(value, str) and value.startswith(condition["Value"])
    if condition["Test"] == "tag":
        return isinstance(value, list) and any(isinstance(tag, dict) and tag.get("Key") == condition["Value"]
                                               for tag in value)
    return False


def fitted(value, shape):
    """The request as the API takes it: a number or a boolean where it takes text (aws:executeAwsApi
    converts them too), a number or a boolean from its text where it takes one."""
    kind = shape.type_name if shape is not None else None
    if kind == "structure" and isinstance(value, dict):
        return {key: fitted(item, shape.members.get(key)) for key, item in value.items()}
    if kind == "map" and isinstance(value, dict):
        return {key: fitted(item, shape.value) for key, item in value.items()}
    if kind == "list" and isinstance(value, list):
        return [fitted(item, shape.member) for item in value]
    if kind == "string" and isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if kind in ("integer", "long") and isinstance(value, str):
        return int(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    return value
