"""Names the renderings give things: what a runbook's own names must look like, and the variables,
options and environment variables of the scripts."""

from __future__ import annotations

import re

from botocore import xform_name

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

# What the scripts call the runtime values.
GLOBAL_VARIABLES = {"ACCOUNT_ID": "account_id", "REGION": "region", "AWS_PARTITION": "partition"}
ENDPOINT_VARIABLE = "PYSYNTH_ENDPOINT_URL"
# Where the scripts keep the secrets a step creates (CreateAccessKey's SecretAccessKey).
SECRETS_OPTION = "--secrets-file"
SCRIPT_OPTIONS = ("--endpoint-url", "--help", SECRETS_OPTION)

# A secret input is read from the environment variable of this prefix and its name
# (Password: PYSYNTH_SECRET_PASSWORD), never from a bare common name a shell may hold for
# another purpose. Other inputs come from options only.
SECRET_PREFIX = "PYSYNTH_SECRET_"


# How an option's value is shown in help texts, by the kind of value the input takes.
METAVARS = {"string": "VALUE", "integer": "INTEGER", "boolean": "true|false", "json": "JSON"}


def input_variable(name: str) -> str:
    return f"input_{xform_name(name)}"


def output_variable(step: str, output: str) -> str:
    return f"output_{xform_name(step)}_{xform_name(output)}"


def error_variable(step: str) -> str:
    """The error code a call that expects errors answered with (empty or None: it succeeded)."""
    return f"error_{xform_name(step)}"


def option_name(name: str) -> str:
    return f"--{xform_name(name, '-')}"


def environment_name(name: str) -> str:
    """The environment variable a secret input is read from."""
    return SECRET_PREFIX + xform_name(name).upper()


def client_variable(service: str) -> str:
    return re.sub(r"\W", "_", service) + "_client"


def item_variable(loop: str) -> str:
    """The element a loop step is at."""
    return f"item_{xform_name(loop)}"


def index_variable(loop: str) -> str:
    """The number of the iteration a loop step is at, from 1."""
    return f"index_{xform_name(loop)}"
