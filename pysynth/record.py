"""Record a live session as a trace pysynth reads like a CloudTrail log, with full responses.

``pysynth record -- python SCRIPT.py ARGS`` and ``pysynth record -- aws ARGS`` run the target in
this process with botocore event hooks on every client it creates, and write one CloudTrail-shaped
record per API call: ``{"Records": [...]}``, the layout CloudTrail delivers to S3. Unlike
CloudTrail, every record carries the full parsed response, reads included, which later loop and
wait inference needs.

What a record holds, and why:

- ``requestParameters``: the operation's parameters with botocore's member names. A top-level
  member is recorded as the program passed it when that value already fits the model, otherwise as
  botocore built it (boto3's DynamoDB conditions and Python values, S3's ``CopySource`` dict, EC2's
  parameter aliases). Botocore's own rewrites of values that fit (EC2 ``UserData`` base64) are so
  left out, as a replay redoes them; members botocore adds (idempotency tokens) are kept.
- ``responseElements``: the parsed response without ``ResponseMetadata``; null for a failed call
  or one that returns nothing. ``errorCode`` and ``errorMessage`` for a failed call.
- Members whose botocore shape is ``sensitive`` (secret access keys, passwords, secret strings) are
  replaced by ``HIDDEN_DUE_TO_SECURITY_REASONS``, in requests and responses alike, as CloudTrail does.
- Streaming bodies (S3 ``PutObject``/``GetObject`` ``Body``) are never read: they are left out
  and named in ``additionalEventData.notRecorded``, as is any value that is not data (an event
  stream). Times are ISO 8601 in UTC, other binary values base64.
- ``eventSource`` is ``<prefix>.amazonaws.com`` with the first of the service's endpoint prefix,
  signing name and botocore name that the normalizer maps back to the same service;
  ``eventTime`` is when the call started, in milliseconds and strictly increasing.
- ``userIdentity`` is a fixed IAM user, ``pysynth-recorder``, in the account the session ran in:
  from the session's own ``sts get-caller-identity`` if it made one, else from one such call made
  after the target ends with the first client's settings (not recorded), else ``123456789012``.

A call that never left the process (botocore rejected its parameters) is not recorded; one that
could not reach its endpoint is, with the exception's class as ``errorCode``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import importlib.util
import inspect
import json
import os
import re
import runpy
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import botocore.config
import botocore.model
import botocore.session

from pysynth.ingest.calls import NotMappable
from pysynth.ingest.normalize import Normalizer

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
DEFAULT_ACCOUNT_ID = "123456789012"
RECORDER_USER = "pysynth-recorder"
USER_AGENT = "pysynth-record"
STDOUT = "-"
# Where a call's state lives between its hooks: botocore's per-call request context.
_CONTEXT_KEY = "pysynth_record"
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?(\.exe)?$")
_ACCOUNT_LOOKUP_CONFIG = botocore.config.Config(
    connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1}
)
_SKIP = object()  # an encoded value that is left out of its parent
_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "character": (str,),
    "integer": (int,), "long": (int,), "short": (int,), "byte": (int,), "biginteger": (int,),
    "float": (int, float, Decimal), "double": (int, float, Decimal), "bigdecimal": (int, float, Decimal),
    "boolean": (bool,),
    "timestamp": (datetime, str, int, float),
    "blob": (bytes, bytearray, str),
}
_INTEGER_TYPES = frozenset({"integer", "long", "short", "byte", "biginteger"})


class RecordError(Exception):
    """The command cannot be recorded: not ``python SCRIPT.py`` or ``aws``, or a bad output."""


@dataclass
class Recording:
    """What one recording produced: the target's exit code and the calls written."""

    exit_code: int
    output: str
    calls: int
    failed: int


# --------------------------------------------------------------------------- encoding


def _utc_text(moment: datetime, timespec: str = "auto") -> str:
    """ISO 8601 in UTC with a Z; a time without a zone is taken as UTC, as botocore does."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec=timespec) + "Z"


def _encode(value, shape: botocore.model.Shape | None, path: str, skipped: list[str]):
    """``value`` as JSON data, guided by its botocore shape where there is one: sensitive members
    hidden, streaming members and values that are not data left out (and named in ``skipped``)."""
    if value is None:
        return None
    if shape is not None and shape.metadata.get("sensitive"):
        return HIDDEN
    if isinstance(value, dict):
        if shape is not None and shape.type_name == "structure" and not shape.is_document_type:
            encoded = {}
            for key, item in value.items():
                member = shape.members.get(key)
                if member is not None and member.serialization.get("streaming"):
                    skipped.append(f"{path}.{key} (streaming body, not read)")
                    continue
                item = _encode(item, member, f"{path}.{key}", skipped)
                if item is not _SKIP:
                    encoded[key] = item
            return encoded
        value_shape = shape.value if shape is not None and shape.type_name == "map" else None
        encoded = {}
        for key, item in value.items():
            item = _encode(item, value_shape, f"{path}.{key}", skipped)
            if item is not _SKIP:
                encoded[str(key)] = item
        return encoded
    if isinstance(value, (list, tuple, set, frozenset)):
        member = shape.member if shape is not None and shape.type_name == "list" else None
        items = (_encode(item, member, f"{path}[{index}]", skipped) for index, item in enumerate(value))
        return [item for item in items if item is not _SKIP]
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return _utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    skipped.append(f"{path} ({type(value).__name__}, not data)")
    return _SKIP


def _fits(value, shape: botocore.model.Shape, documents: bool = False) -> bool:
    """Whether ``value`` is already of the shape's type, as botocore's serializer takes it; with
    ``documents``, a string member may also hold a parsed JSON document (botocore decodes IAM's
    policies in responses), which the normalizer reads as the string."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return True
        return isinstance(value, dict) and all(
            key in shape.members and (item is None or _fits(item, shape.members[key], documents))
            for key, item in value.items()
        )
    if kind == "list":
        return isinstance(value, (list, tuple)) and all(_fits(item, shape.member, documents) for item in value)
    if kind == "map":
        return isinstance(value, dict) and all(
            isinstance(key, str) and _fits(item, shape.value, documents) for key, item in value.items()
        )
    if kind == "blob" and hasattr(value, "read"):
        return True
    if kind in _INTEGER_TYPES and isinstance(value, bool):
        return False
    if documents and kind == "string" and isinstance(value, (dict, list)):
        return True
    return isinstance(value, _SCALAR_TYPES.get(kind, (object,)))


def _copy_containers(value):
    """A copy of the dicts and lists in ``value``; the values in them are shared, not copied (a
    streaming body stays unread)."""
    if isinstance(value, dict):
        return {key: _copy_containers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_containers(item) for item in value]
    return value


# --------------------------------------------------------------------------- the recorder


@dataclass
class _Call:
    """One API call between its hooks."""

    sequence: int
    time: datetime
    operation: botocore.model.OperationModel
    request: dict
    as_passed: set[str]  # top-level members recorded as the program passed them
    skipped: list[str]
    parsed: dict | None = None  # the response as botocore parsed it, before any customization


class Recorder:
    """Hooks every botocore client created while it is active and records its API calls.

    Use as a context manager around the code to record; ``trace()`` then gives the records.
    Clients created before it became active are not recorded.
    """

    def __init__(self, account_id: str | None = None, look_up_account: bool = True):
        self.records: list[tuple[int, botocore.model.ServiceModel, dict]] = []
        self._account_id = account_id
        self._look_up_account = look_up_account and account_id is None
        self._lock = threading.Lock()
        self._sequence = 0
        self._last_time: datetime | None = None
        self._original_create_client = None
        self._first_client: tuple | None = None  # (session, create_client arguments)
        self._caller_identity: dict | None = None

    # -- installing ------------------------------------------------------------------------

    def __enter__(self) -> Recorder:
        original = botocore.session.Session.create_client
        signature = inspect.signature(original)
        recorder = self

        @functools.wraps(original)
        def create_client(session, *args, **kwargs):
            client = original(session, *args, **kwargs)
            recorder._attach(client, session, signature.bind(session, *args, **kwargs).arguments)
            return client

        self._original_create_client = original
        botocore.session.Session.create_client = create_client
        return self

    def __exit__(self, *exc_info) -> None:
        botocore.session.Session.create_client = self._original_create_client

    def _attach(self, client, session, arguments: dict) -> None:
        events = client.meta.events
        # Handlers of more specific events run first, whatever their place among their own, so
        # only a handler of the bare event registered last sees the parameters as finally built.
        events.register("provide-client-params", self._provided)
        events.register_last("before-parameter-build", self._built)
        events.register("response-received", self._parsed)
        events.register_last("after-call", functools.partial(self._after_call, client.meta))
        events.register_last("after-call-error", functools.partial(self._after_call_error, client.meta))
        with self._lock:
            if self._first_client is None:
                self._first_client = (session, {k: v for k, v in arguments.items() if k != "self"})

    # -- the hooks ---------------------------------------------------------------------------

    def _provided(self, params, model, context, **_):
        """The parameters as the program passed them, before any customization rewrote them."""
        input_shape = model.input_shape
        skipped: list[str] = []
        request: dict = {}
        as_passed: set[str] = set()
        for key, value in params.items():
            member = input_shape.members.get(key) if input_shape else None
            if member is not None and _fits(value, member):
                as_passed.add(key)
                value = self._encode_member(key, value, member, skipped)
                if value is not _SKIP:
                    request[key] = value
        with self._lock:
            self._sequence += 1
            # Milliseconds, strictly increasing: the trace's order is the order of the calls.
            now = datetime.now(timezone.utc)
            now = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if self._last_time is not None and now <= self._last_time:
                now = self._last_time + timedelta(milliseconds=1)
            self._last_time = now
            context[_CONTEXT_KEY] = _Call(self._sequence, now, model, request, as_passed, skipped)

    def _built(self, params, model, context, **_):
        """Members the program passed in a form botocore had to rebuild, and members botocore
        added (idempotency tokens), as botocore will send them."""
        call: _Call | None = context.get(_CONTEXT_KEY)
        if call is None:
            return
        input_shape = model.input_shape
        for key, value in params.items():
            if key in call.as_passed:
                continue
            member = input_shape.members.get(key) if input_shape else None
            value = self._encode_member(key, value, member, call.skipped)
            if value is not _SKIP:
                call.request[key] = value

    @staticmethod
    def _encode_member(key, value, member, skipped):
        if member is not None and member.serialization.get("streaming"):
            skipped.append(f"requestParameters.{key} (streaming body, not read)")
            return _SKIP
        return _encode(value, member, f"requestParameters.{key}", skipped)

    def _parsed(self, parsed_response, context, **_):
        """The response of each attempt as botocore parsed it, before the after-call handlers
        change it in place (boto3's DynamoDB resource turns attribute values into Python values)."""
        call: _Call | None = context.get(_CONTEXT_KEY)
        if call is not None and parsed_response is not None:
            call.parsed = _copy_containers(parsed_response)

    def _after_call(self, meta, http_response, parsed, model, context, **_):
        call: _Call | None = context.pop(_CONTEXT_KEY, None)
        if call is None:
            return
        record = self._record(meta, call)
        if http_response.status_code >= 300:  # botocore raises a ClientError for it
            error = parsed.get("Error") or {}
            record["errorCode"] = str(error.get("Code") or http_response.status_code)
            record["errorMessage"] = str(error.get("Message") or "")
            record["responseElements"] = None
        else:
            response = self._response(parsed, call, model.output_shape)
            encoded = _encode(response, model.output_shape, "responseElements", call.skipped) if response else None
            record["responseElements"] = encoded or None
            if (meta.service_model.service_name, model.name) == ("sts", "GetCallerIdentity"):
                self._caller_identity = self._caller_identity or response
        request_id = (parsed.get("ResponseMetadata") or {}).get("RequestId")
        if request_id:
            record["requestID"] = request_id
        self._finish(meta, call, record)

    @staticmethod
    def _response(parsed: dict, call: _Call, output_shape) -> dict:
        """Each top-level member as the program got it where that still fits the model, else as
        botocore parsed it."""
        first = call.parsed or {}
        response = {}
        for key, value in parsed.items():
            if key == "ResponseMetadata":
                continue
            member = output_shape.members.get(key) if output_shape else None
            if key in first and member is not None and not _fits(value, member, documents=True):
                value = first[key]
            response[key] = value
        return response

    def _after_call_error(self, meta, exception, context, **_):
        call: _Call | None = context.pop(_CONTEXT_KEY, None)
        if call is None:
            return
        record = self._record(meta, call)
        record["errorCode"] = type(exception).__name__
        record["errorMessage"] = str(exception)
        record["responseElements"] = None
        self._finish(meta, call, record)

    def _record(self, meta, call: _Call) -> dict:
        operation = call.operation
        return {
            "eventVersion": "1.08",
            "userIdentity": None,  # filled in by trace(), once the account is known
            "eventTime": _utc_text(call.time, "milliseconds"),
            "eventSource": None,  # filled in by trace(): finding it loads the service index
            "eventName": operation.name,
            "awsRegion": meta.region_name or "us-east-1",
            "sourceIPAddress": "127.0.0.1",
            "userAgent": USER_AGENT,
            "requestParameters": call.request,
            "responseElements": None,
            "eventID": str(uuid.uuid4()),
            "readOnly": Normalizer.is_read_only(meta.service_model.service_name, operation.name),
            "eventType": "AwsApiCall",
            "managementEvent": True,
        }

    def _finish(self, meta, call: _Call, record: dict) -> None:
        if call.skipped:
            record["additionalEventData"] = {"notRecorded": call.skipped}
        with self._lock:
            self.records.append((call.sequence, meta.service_model, record))

    # -- the trace ---------------------------------------------------------------------------

    def trace(self) -> dict:
        """``{"Records": [...]}`` in call order, with event sources and the caller filled in."""
        account, partition = self._account()
        identity = {
            "type": "IAMUser",
            "principalId": "AIDAPYSYNTHRECORDER",
            "arn": f"arn:{partition}:iam::{account}:user/{RECORDER_USER}",
            "accountId": account,
            "userName": RECORDER_USER,
        }
        sources: dict[str, str] = {}
        normalizer = _normalizer()
        records = []
        for _, service_model, record in sorted(self.records, key=lambda item: item[0]):
            name = service_model.service_name
            if name not in sources:
                sources[name] = event_source(service_model, record["eventName"], normalizer)
            record = {**record, "eventSource": sources[name], "userIdentity": identity}
            record["recipientAccountId"] = account
            records.append(record)
        return {"Records": records}

    def _account(self) -> tuple[str, str]:
        identity = self._caller_identity
        if self._account_id is not None:
            return self._account_id, "aws"
        if identity is None and self._look_up_account and self._first_client is not None:
            identity = self._lookup_caller_identity()
        if identity and isinstance(identity.get("Account"), str):
            arn = identity.get("Arn") or ""
            partition = arn.split(":")[1] if arn.count(":") >= 5 else "aws"
            return identity["Account"], partition
        return DEFAULT_ACCOUNT_ID, "aws"

    def _lookup_caller_identity(self) -> dict | None:
        """One GetCallerIdentity with the first client's credentials and endpoint, unrecorded."""
        session, arguments = self._first_client
        arguments = {
            key: value for key, value in arguments.items()
            if key in ("region_name", "endpoint_url", "verify", "use_ssl", "aws_access_key_id",
                       "aws_secret_access_key", "aws_session_token")
        }
        create_client = self._original_create_client or botocore.session.Session.create_client
        try:
            client = create_client(session, "sts", config=_ACCOUNT_LOOKUP_CONFIG, **arguments)
            return client.get_caller_identity()
        except Exception:  # noqa: BLE001 - any failure means: the default account
            return None


@functools.cache
def _normalizer() -> Normalizer:
    """One per process: its index of event sources takes a moment to build."""
    return Normalizer()


def event_source(service_model: botocore.model.ServiceModel, operation: str, normalizer: Normalizer) -> str:
    """The CloudTrail event source of a service: its endpoint prefix, signing name or botocore
    name, the first one that the normalizer maps back to this service."""
    candidates = (service_model.endpoint_prefix, service_model.signing_name, service_model.service_name)
    prefixes = list(dict.fromkeys(candidate for candidate in candidates if candidate))
    for prefix in prefixes:
        source = f"{prefix}.amazonaws.com"
        try:
            if normalizer.resolve(source, operation)[0] == service_model.service_name:
                return source
        except NotMappable:
            continue
    return f"{prefixes[0]}.amazonaws.com"


# --------------------------------------------------------------------------- running the target


def record(command: list[str], output: str, account_id: str | None = None) -> Recording:
    """Run ``command`` (``python SCRIPT.py ARGS``, ``python -m MODULE ARGS`` or ``aws ARGS``) in
    this process, recording its API calls, and write the trace to ``output`` (``-``: stdout, and
    the target's own stdout goes to stderr). The trace is written whatever the target's fate."""
    run = _runner(command)
    destination = None if output == STDOUT else Path(output).resolve()
    if destination is not None and not destination.parent.is_dir():
        raise RecordError(f"cannot write the trace to {output}: no directory {destination.parent}")
    trace_stream = sys.stdout
    recorder = Recorder(account_id=account_id)
    exit_code = 1
    try:
        with recorder, (contextlib.redirect_stdout(sys.stderr) if destination is None else contextlib.nullcontext()):
            exit_code = run()
    finally:
        trace = recorder.trace()
        text = json.dumps(trace, indent=2, ensure_ascii=False) + "\n"
        if destination is None:
            trace_stream.write(text)
            trace_stream.flush()
        else:
            destination.write_text(text, encoding="utf-8")
    records = trace["Records"]
    failed = sum(1 for item in records if item.get("errorCode"))
    return Recording(exit_code, output, len(records), failed)


def _runner(command: list[str]):
    """A function that runs the target and returns its exit code; RecordError if unsupported."""
    if not command:
        raise RecordError("nothing to record: give a command after --, such as: python SCRIPT.py ARGS or aws ARGS")
    program, *args = command
    name = os.path.basename(program)
    if name == "aws":
        if importlib.util.find_spec("awscli") is None:
            raise RecordError("the AWS CLI v1 (the awscli package) is not installed beside pysynth: pip install awscli")
        return functools.partial(_run_aws, args)
    if _PYTHON.match(name):
        if args[:1] == ["-m"] and len(args) > 1:
            return functools.partial(_run_python, None, args[1], args[2:])
        if not args or args[0].startswith("-"):
            raise RecordError(
                f"{program} {' '.join(args[:1])}: only python SCRIPT.py ARGS and python -m MODULE ARGS "
                "can be recorded (no interpreter options)"
            )
        script = Path(args[0])
        if not script.is_file():
            raise RecordError(f"no script {args[0]}")
        return functools.partial(_run_python, str(script.resolve()), None, args[1:])
    raise RecordError(
        f"cannot record {program!r}: the command must be python SCRIPT.py ARGS, python -m MODULE ARGS "
        "or aws ARGS (they run inside pysynth, which hooks their AWS calls)"
    )


def _run_python(script: str | None, module: str | None, args: list[str]) -> int:
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script or module, *args]
    sys.path.insert(0, os.path.dirname(script) if script else os.getcwd())
    try:
        if script:
            runpy.run_path(script, run_name="__main__")
        else:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as done:
        return _exit_code(done)
    except Exception as error:  # noqa: BLE001 - the target's failure is reported as Python would
        _print_traceback(error, script)
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _run_aws(args: list[str]) -> int:
    from awscli.clidriver import create_clidriver

    saved_argv = sys.argv[:]
    sys.argv = ["aws", *args]
    try:
        return create_clidriver().main(args)
    except SystemExit as done:
        return _exit_code(done)
    finally:
        sys.argv = saved_argv


def _exit_code(done: SystemExit) -> int:
    if done.code is None:
        return 0
    if isinstance(done.code, int):
        return done.code
    print(done.code, file=sys.stderr)
    return 1


def _print_traceback(error: BaseException, script: str | None) -> None:
    """The traceback from the target's own frames on, as ``python SCRIPT.py`` would show it."""
    tb = error.__traceback__
    while script and tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__, file=sys.stderr)
