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

# Names that a shell or the system already give a meaning to: an input called after one of them
# (IAM's "Path"!) is read from INPUT_<NAME> instead, so PATH keeps its meaning.
RESERVED_ENVIRONMENT = frozenset((
    "CDPATH", "COLUMNS", "ENV", "EUID", "GROUPS", "HISTFILE", "HOME", "HOSTNAME", "HOSTTYPE", "IFS", "LANG",
    "LANGUAGE", "LINENO", "LINES", "LOGNAME", "MACHTYPE", "MAIL", "OLDPWD", "OPTARG", "OPTERR", "OPTIND",
    "OSTYPE", "PATH", "PPID", "PS1", "PS2", "PS3", "PS4", "PWD", "RANDOM", "REPLY", "SECONDS", "SHELL",
    "SHELLOPTS", "SHLVL", "TERM", "TMPDIR", "TZ", "UID", "USER",
))
RESERVED_ENVIRONMENT_PREFIXES = ("AWS_", "BASH", "LC_", "PYSYNTH_", "PYTHON")


def input_variable(name: str) -> str:
    return f"input_{xform_name(name)}"


def output_variable(step: str, output: str) -> str:
    return f"output_{xform_name(step)}_{xform_name(output)}"


def option_name(name: str) -> str:
    return f"--{xform_name(name, '-')}"


def environment_name(name: str) -> str:
    upper = xform_name(name).upper()
    if upper in RESERVED_ENVIRONMENT or upper.startswith(RESERVED_ENVIRONMENT_PREFIXES):
        return f"INPUT_{upper}"
    return upper


def client_variable(service: str) -> str:
    return re.sub(r"\W", "_", service) + "_client"
