"""Upload a runbook to Systems Manager as an Automation document: create it, or add a new version
and make it the default when a document of that name exists.

The document name is checked before anything is sent, against what botocore's model of
``CreateDocument`` says a name must be (its pattern, and the prefixes its documentation reserves
for AWS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pysynth.botomodels import operation_model

DOCUMENT_TYPE = "Automation"


class UploadError(Exception):
    """Nothing was uploaded; the message is one line."""


@dataclass(frozen=True)
class Uploaded:
    name: str
    version: str  # the version that is now the default (or would be, in a dry run)
    action: str  # "created", "updated", "unchanged"; "would create", "would update" in a dry run


def name_problems(name: str) -> list[str]:
    """Why SSM would refuse ``name`` for a new document; [] when it would not."""
    shape = operation_model("ssm", "CreateDocument").input_shape.members["Name"]
    problems = []
    pattern = shape.metadata.get("pattern")
    if pattern and not re.search(pattern, name):
        problems.append(f"document name {name!r} does not match SSM's pattern {pattern} "
                        "(3 to 128 letters, digits, _, - or .)")
    reserved = _reserved_prefixes(shape.documentation or "")
    taken = next((prefix for prefix in reserved if name.lower().startswith(prefix.lower())), None)
    if taken:
        problems.append(f"document name {name!r} starts with {taken!r}, a prefix AWS reserves ({', '.join(reserved)})")
    return problems


def _reserved_prefixes(documentation: str) -> list[str]:
    """The prefixes listed after "reserved" in the documentation of the document name."""
    start = documentation.find("reserved")
    return re.findall(r"<code>([^<]+)</code>", documentation[start:]) if start >= 0 else []


def upload(content: str, name: str, *, document_format: str, dry_run: bool = False,
           endpoint_url: str | None = None, region: str | None = None) -> Uploaded:
    problems = name_problems(name)
    if problems:
        raise UploadError("; ".join(problems))
    try:
        client = boto3.Session(region_name=region).client("ssm", endpoint_url=endpoint_url)
        latest = _latest_version(client, name)
        if dry_run:
            if latest is None:
                return Uploaded(name, "1", "would create")
            return Uploaded(name, str(int(latest) + 1), "would update")
        if latest is None:
            created = client.create_document(Content=content, Name=name, DocumentType=DOCUMENT_TYPE,
                                             DocumentFormat=document_format)
            return Uploaded(name, created["DocumentDescription"]["DocumentVersion"], "created")
        try:
            updated = client.update_document(Content=content, Name=name, DocumentVersion="$LATEST",
                                             DocumentFormat=document_format)
        except ClientError as error:
            if error.response["Error"]["Code"] != "DuplicateDocumentContent":
                raise
            client.update_document_default_version(Name=name, DocumentVersion=latest)
            return Uploaded(name, latest, "unchanged")
        version = updated["DocumentDescription"]["DocumentVersion"]
        client.update_document_default_version(Name=name, DocumentVersion=version)
        return Uploaded(name, version, "updated")
    except ClientError as error:
        details = error.response.get("Error", {})
        raise UploadError(f"Systems Manager refused: {details.get('Code')}: {details.get('Message')}") from None
    except BotoCoreError as error:
        raise UploadError(f"cannot reach Systems Manager: {error}") from None


def _latest_version(client, name: str) -> str | None:
    """The latest version of the document ``name``; None when there is no such document."""
    try:
        return client.describe_document(Name=name)["Document"]["LatestVersion"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "InvalidDocument":
            return None
        raise
