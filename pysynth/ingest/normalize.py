"""Map one CloudTrail record onto botocore's model: service, operation, request and response.

Everything is derived from botocore's service models: the event source is matched against each
service's name, ``endpointPrefix``, ``signingName`` and service id, the event name against its
operations, and every logged member against the operation's shapes (member name,
``locationName``, ``queryName``). CloudTrail's own habits are handled generically on top of that:
EC2's ``xxxSet: {"items": [...]}`` wrappers, XML-isms (``xmlns``, ``{"content": ...}``, empty
``{}`` markers), S3's REST layout (URI labels, ``x-amz-*`` headers, sub-resource markers, the body
as the payload member) and values CloudTrail hides. The only hand-written table is
``CLOUDTRAIL_EVENT_NAMES``: event names CloudTrail spells differently from the API where the model
gives no handle.

The work per shape (member lookup tables, coercions, placeholders) is compiled once into a plan
and cached per service, and the operation lookup is cached per (event source, event name), so
the common path per record is a few dict lookups and one walk over the logged values.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
from collections.abc import Callable
from datetime import datetime, timezone

import botocore.loaders
import botocore.model
import botocore.utils
import botocore.validate

from pysynth import botomodels
from pysynth.ingest.calls import CanonicalCall, NotMappable

HIDDEN_MARKERS = frozenset({"HIDDEN_DUE_TO_SECURITY_REASONS", "<sensitiveDataRemoved>"})

# CloudTrail event names that differ from the API operation name where botocore's model offers
# nothing to derive the difference from: (service, event name) -> operation. S3's "Bucket" infix
# differences (PutBucketPublicAccessBlock is PutPublicAccessBlock) are derived from the HTTP
# binding instead, and deprecated S3 operations are redirected to their successor.
CLOUDTRAIL_EVENT_NAMES = {
    ("s3", "ListAllMyBuckets"): "ListBuckets",
    # The account-level public access block is logged under s3.amazonaws.com, with "Account".
    ("s3control", "GetAccountPublicAccessBlock"): "GetPublicAccessBlock",
    ("s3control", "PutAccountPublicAccessBlock"): "PutPublicAccessBlock",
    ("s3control", "DeleteAccountPublicAccessBlock"): "DeletePublicAccessBlock",
}

# Request members CloudTrail spells in a way botocore's model has no trace of (not the member
# name, its locationName or queryName): (service, operation) -> {logged key: member}.
CLOUDTRAIL_MEMBER_NAMES = {
    ("ec2", "CreateVolume"): {"zone": "AvailabilityZone"},
    ("ec2", "ModifySnapshotAttribute"): {"attributeType": "Attribute"},
    ("ec2", "ModifyImageAttribute"): {"attributeType": "Attribute"},
    ("ec2", "CreateNetworkAclEntry"): {"aclProtocol": "Protocol"},
}

READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Head", "BatchGet", "Search", "Lookup")

# Keys that carry no request or response data when the model has no member for them: the HTTP
# Host header, XML namespaces, the request id, and EC2's "_return" flag, which a successful call
# always logs as true.
_TRANSPORT_KEYS = frozenset({"host", "xmlns", "requestid", "_return"})
# Keys the XML-to-JSON conversion uses for a list's items.
_LIST_WRAPPER_KEYS = frozenset({"items", "item", "member"})
_DOCUMENTED_REQUIRED = re.compile(r"\b(It|This parameter) is required\b")
_API_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")
_BUCKET_INFIX = re.compile(r"^(Get|Put|Delete)Bucket(\w+)$")
_VERB = re.compile(r"^(Get|Put|Delete)(\w+)$")
_METADATA_KEY = re.compile(r'"metadata"\s*:\s*\{')
_FRACTION_BEYOND_MICROSECONDS = re.compile(r"(\.\d{6})\d+")
_CLOUDTRAIL_DATE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_TIMESTAMP_LENGTH = 64  # longer text is no time, and dateutil would scan all of it
_MAX_REASON_LENGTH = 240
_DROP = object()  # a converted value that is to be left out of its parent


class _NoNativeType:
    """Never the class of a logged value: plans that always convert use it as native type."""


class _Context:
    """What converting one request or response collects besides the value."""

    __slots__ = ("is_request", "notes", "hidden")

    def __init__(self, is_request: bool, notes: list[str] | None = None):
        self.is_request = is_request
        self.notes: list[str] = [] if notes is None else notes
        self.hidden: list[str] = []


def _quoted(text: str) -> str:
    """Text in double quotes with control characters escaped, so a reason stays one line."""
    return json.dumps(text, ensure_ascii=False)


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _is_hidden(value) -> bool:
    return value.__class__ is str and value in HIDDEN_MARKERS


class _Plan:
    """How to turn a logged value into a value of one botocore shape.

    ``native_type`` is the class of logged values that are already right as they are (unless
    hidden), which lets containers skip the call and the path bookkeeping for them.
    """

    __slots__ = ("shape",)
    native_type: type = _NoNativeType

    def __init__(self, shape: botocore.model.Shape):
        self.shape = shape

    def convert(self, value, ctx: _Context, log_path: str, path: str):
        raise NotImplementedError

    def placeholder(self, ctx: _Context, path: str):
        """A value of the shape that validates, standing in for one the log does not show."""
        raise NotImplementedError

    def convert_value(self, value, ctx: _Context, log_path: str, path: str):
        if _is_hidden(value):
            if ctx.is_request:
                ctx.hidden.append(path)
                return self.placeholder(ctx, path)
            ctx.notes.append(f"{log_path} is hidden by CloudTrail")
            return _DROP
        return self.convert(value, ctx, log_path, path)

    def mismatch(self, value, ctx: _Context, log_path: str):
        """A value that cannot be coerced: a request keeps it so validation reports it."""
        if ctx.is_request:
            return value
        ctx.notes.append(f"dropped {log_path}: not a {self.shape.type_name}")
        return _DROP


def _element_text(value: dict):
    """The text of an XML element CloudTrail logged as an object: {"tag": 1, "content": "x"},
    or a one-member wrapper such as {"groupId": "sg-1"} or {"value": "t3.micro"}; else None."""
    if "content" in value:
        return value["content"]
    if len(value) == 1:
        (inner,) = value.values()
        if not isinstance(inner, (dict, list)):
            return inner
    return None


class _StringPlan(_Plan):
    __slots__ = ()
    native_type = str

    def convert(self, value, ctx, log_path, path):
        cls = value.__class__
        if cls is str:
            return value
        if cls is bool:
            return "true" if value else "false"
        if cls is int or cls is float:
            return str(value)
        if cls is dict:
            text = _element_text(value)
            if text is not None:
                return self.convert(text, ctx, log_path, path)
        if cls is list and len(value) == 1 and not isinstance(value[0], (dict, list)):
            return self.convert(value[0], ctx, log_path, path)
        if cls is dict or cls is list:
            # A JSON document (a policy) logged parsed; the API takes it as a string.
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return self.mismatch(value, ctx, log_path)

    def placeholder(self, ctx, path):
        metadata = self.shape.metadata
        if metadata.get("enum"):
            return metadata["enum"][0]
        length = max(metadata.get("min", 0), min(6, metadata.get("max", 6)))
        return ("HIDDEN" * (length // 6 + 1))[:length]


class _EnumPlan(_StringPlan):
    """A string with enum values: CloudTrail sometimes logs another spelling of one
    (``CREATE_VOLUME_PERMISSION`` for ``createVolumePermission``); the model's spelling is what
    the API takes. A value no spelling matches is kept (new enum values reach the API first)."""

    __slots__ = ("values", "spellings")
    native_type = _NoNativeType  # every value goes through convert

    def __init__(self, shape: botocore.model.Shape):
        super().__init__(shape)
        self.values = frozenset(shape.metadata["enum"])
        self.spellings = {_enum_key(value): value for value in shape.metadata["enum"]}

    def convert(self, value, ctx, log_path, path):
        value = super().convert(value, ctx, log_path, path)
        if value.__class__ is str and value not in self.values:
            return self.spellings.get(_enum_key(value), value)
        return value


def _enum_key(text: str) -> str:
    return text.replace("_", "").replace("-", "").lower()


class _NumberPlan(_Plan):
    __slots__ = ("native_type",)

    def __init__(self, shape, native_type: type):
        super().__init__(shape)
        self.native_type = native_type

    def convert(self, value, ctx, log_path, path):
        cls = value.__class__
        if cls is int or cls is bool:
            return value
        if cls is float:
            if self.native_type is int and value.is_integer():
                return int(value)
            return value
        if cls is str:
            try:
                number = float(value)
            except ValueError:
                return self.mismatch(value, ctx, log_path)
            if self.native_type is float:
                return number
            if not number.is_integer():
                return self.mismatch(value, ctx, log_path)
            return int(value) if value.strip().lstrip("-").isdigit() else int(number)
        if cls is dict:
            text = _element_text(value)
            if text is not None:
                return self.convert(text, ctx, log_path, path)
        if cls is list and len(value) == 1:
            return self.convert(value[0], ctx, log_path, path)
        return self.mismatch(value, ctx, log_path)

    def placeholder(self, ctx, path):
        metadata = self.shape.metadata
        number = max(metadata.get("min", 0), 0)
        if "max" in metadata:
            number = min(number, metadata["max"])
        return self.native_type(number)


class _BooleanPlan(_Plan):
    __slots__ = ()
    native_type = bool

    def convert(self, value, ctx, log_path, path):
        cls = value.__class__
        if cls is bool:
            return value
        if cls is str:
            lowered = value.lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
        if cls is int and value in (0, 1):
            return bool(value)
        if cls is dict:
            text = _element_text(value)
            if text is not None:
                return self.convert(text, ctx, log_path, path)
        if cls is list and len(value) == 1:
            return self.convert(value[0], ctx, log_path, path)
        return self.mismatch(value, ctx, log_path)

    def placeholder(self, ctx, path):
        return False


def parse_timestamp(value) -> datetime | None:
    """A CloudTrail time (epoch seconds or milliseconds, ISO 8601, or the Java style
    "Jul 10, 2023 12:23:05 PM") as an aware datetime; None if it is none of these."""
    if isinstance(value, datetime):
        return value
    if value.__class__ is str:
        text = value.strip()
        if not text.isdigit():
            return _parse_time_text(text)
        value = int(text)
    if value.__class__ in (int, float):
        # EC2 logs epoch milliseconds; as seconds they would lie beyond the year 5000.
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None
    return None


# Logs repeat the same times (a creation date in every Describe response, the filter of a polling
# loop), and strptime takes tens of microseconds.
@functools.lru_cache(maxsize=4096)
def _parse_time_text(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(_FRACTION_BEYOND_MICROSECONDS.sub(r"\1", text))
    except ValueError:
        parsed = None
    for date_format in _CLOUDTRAIL_DATE_FORMATS if parsed is None else ():
        try:
            parsed = datetime.strptime(text, date_format)
            break
        except ValueError:
            continue
    if parsed is None:
        if len(text) > _MAX_TIMESTAMP_LENGTH:
            return None
        try:
            parsed = botocore.utils.parse_timestamp(text)  # RFC 822 and other dateutil formats
        except (ValueError, TypeError, OverflowError, RuntimeError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _TimestampPlan(_Plan):
    __slots__ = ()

    def convert(self, value, ctx, log_path, path):
        parsed = parse_timestamp(value)
        return self.mismatch(value, ctx, log_path) if parsed is None else parsed

    def placeholder(self, ctx, path):
        return _EPOCH


class _BlobPlan(_Plan):
    __slots__ = ()
    native_type = str

    def convert(self, value, ctx, log_path, path):
        if value.__class__ in (str, bytes, bytearray):
            return value
        return self.mismatch(value, ctx, log_path)

    def placeholder(self, ctx, path):
        return b""


class _DocumentPlan(_Plan):
    """Free-form JSON: passed through as logged."""

    __slots__ = ()

    def convert(self, value, ctx, log_path, path):
        return value

    def placeholder(self, ctx, path):
        return {}


class _ListPlan(_Plan):
    __slots__ = ("plans", "wrapper_keys", "min_length", "_member_plan")

    def __init__(self, shape: botocore.model.ListShape, plans: _ServicePlans):
        super().__init__(shape)
        self.plans = plans
        item_name = shape.member.serialization.get("name")
        self.wrapper_keys = _LIST_WRAPPER_KEYS | ({item_name.lower()} if item_name else set())
        self.min_length = shape.metadata.get("min", 0)
        self._member_plan: _Plan | None = None

    @property
    def member_plan(self) -> _Plan:
        if self._member_plan is None:
            self._member_plan = self.plans.for_shape(self.shape.member)
        return self._member_plan

    def convert(self, value, ctx, log_path, path):
        if value.__class__ is dict:
            if len(value) == 1:
                (key,) = value
                if key.lower() in self.wrapper_keys:
                    value = value[key]
                    log_path = f"{log_path}.{key}"
            if value == {}:
                return []
        elif value == "":
            return []
        if value.__class__ is not list:
            value = [value]  # one item, logged without its list
        member_plan = self.member_plan
        native_type = member_plan.native_type
        converted = []
        for index, item in enumerate(value):
            if item.__class__ is native_type and item not in HIDDEN_MARKERS:  # _is_hidden inlined
                converted.append(item)
            elif item is not None:
                item = member_plan.convert_value(
                    item, ctx, f"{log_path}[{index}]", f"{path}[{len(converted)}]"
                )
                if item is not _DROP:
                    converted.append(item)
        return converted

    def placeholder(self, ctx, path):
        member_plan = self.member_plan
        return [member_plan.placeholder(ctx, f"{path}[{i}]") for i in range(self.min_length)]


class _MapPlan(_Plan):
    __slots__ = ("plans",)

    def __init__(self, shape: botocore.model.MapShape, plans: _ServicePlans):
        super().__init__(shape)
        self.plans = plans

    def convert(self, value, ctx, log_path, path):
        if value == "":
            return {}
        if value.__class__ is not dict:
            return self.mismatch(value, ctx, log_path)
        value_plan = self.plans.for_shape(self.shape.value)
        converted = {}
        for key, item in value.items():  # keys are strings already, as the model's are
            if item is None:
                continue
            item = value_plan.convert_value(item, ctx, f"{log_path}.{key}", f"{path}.{key}")
            if item is not _DROP:
                converted[key] = item
        return converted

    def placeholder(self, ctx, path):
        return {}


def _plural_forms(name: str) -> set[str]:
    """Other singular and plural spellings of a lowercase member name."""
    forms = {name + "s", name + "es"}
    if name.endswith("ies"):
        forms.add(name[:-3] + "y")
    if name.endswith("es"):
        forms.add(name[:-2])
    if name.endswith("s"):
        forms.add(name[:-1])
    if name.endswith("y"):
        forms.add(name[:-1] + "ies")
    return forms


def _is_empty_marker(value, plan: _Plan) -> bool:
    """CloudTrail's {} (or an empty XML element's "") for an empty list or an element the call
    did not send; for a map or a document, {} is a value."""
    if value.__class__ is dict:
        return not value and not isinstance(plan, (_MapPlan, _DocumentPlan))
    return value == "" and isinstance(plan, (_ListPlan, _StructurePlan))


class _StructurePlan(_Plan):
    """A structure: logged keys are matched to members exactly (member name, locationName,
    queryName), then case-insensitively, then through CloudTrail's spelling variants (EC2's
    ``xxxSet`` lists, singular/plural, ``_return``, S3's ``bucketName`` for the URI label)."""

    __slots__ = (
        "plans", "exact", "folded", "member_plans", "required", "payload", "sensitive",
        "union", "single_structure_member",
    )

    def __init__(self, shape: botocore.model.StructureShape, plans: _ServicePlans):
        super().__init__(shape)
        self.plans = plans
        self.exact: dict[str, str] = {}
        # Spellings by how directly they derive from the model; a spelling two members share
        # within one tier is ambiguous and left out unless a better tier claims it.
        tiers: tuple[dict[str, set[str]], ...] = ({}, {}, {})
        for member, member_shape in shape.members.items():
            serialization = member_shape.serialization
            spellings = {member, serialization.get("name") or member}
            if "queryName" in serialization:
                spellings.add(serialization["queryName"])
            for spelling in spellings:
                self.exact.setdefault(spelling, member)
                lowered = spelling.lower()
                direct = {lowered + "set", "_" + lowered}
                if serialization.get("location") == "uri":
                    direct.add(lowered + "name")  # S3's "bucketName" for the {Bucket} label
                plural = _plural_forms(lowered)
                plural |= {form + "set" for form in plural}
                for tier, forms in zip(tiers, ({lowered}, direct, plural)):
                    for form in forms:
                        tier.setdefault(form, set()).add(member)
        self.folded: dict[str, str] = {}
        for tier in tiers:
            for form, members in tier.items():
                if form not in self.folded and len(members) == 1:
                    (self.folded[form],) = members
        self.member_plans: dict[str, _Plan] = {}
        self.payload = shape.serialization.get("payload")
        sensitive = [
            (member, member_shape) for member, member_shape in shape.members.items()
            if member_shape.metadata.get("sensitive")
        ]
        # CloudTrail never logs some secrets at all (CreateLoginProfile's Password). A sensitive
        # member the documentation calls required was sent although the model makes it optional
        # (botocore does so for cases like AssumeRoot sessions), so it is hidden, not absent.
        documented_required = tuple(
            member for member, member_shape in sensitive
            if _DOCUMENTED_REQUIRED.search(member_shape.documentation or "")
        )
        self.required = tuple(shape.required_members) + tuple(
            member for member in documented_required if member not in shape.required_members
        )
        self.sensitive = tuple(member for member, _ in sensitive if member not in self.required)
        self.union = shape.is_tagged_union
        members = list(shape.members.items())
        only_structure = (
            len(members) == 1
            and members[0][1].type_name == "structure"
            and not members[0][1].is_document_type
        )
        self.single_structure_member = members[0][0] if only_structure else None

    def member_plan(self, member: str) -> _Plan:
        plan = self.member_plans.get(member)
        if plan is None:
            plan = self.member_plans[member] = self.plans.for_shape(self.shape.members[member])
        return plan

    def resolve_key(self, key: str) -> str | None:
        return self.exact.get(key) or self.folded.get(key.lower())

    def convert(self, value, ctx, log_path, path):
        if value.__class__ is list and len(value) == 1:
            value = value[0]  # one structure, logged as a list
        elif value == "":
            value = {}
        if value.__class__ is not dict:
            return self.mismatch(value, ctx, log_path)
        converted: dict = {}
        leftovers = None
        exact = self.exact
        folded = self.folded
        member_plans = self.member_plans
        for key, item in value.items():
            member = exact.get(key)
            if member is None:
                member = folded.get(key.lower())
                if member is None:
                    if leftovers is None:
                        leftovers = []
                    leftovers.append((key, item))
                    continue
                if member in converted:
                    ctx.notes.append(f"dropped duplicate member {log_path}.{key}")
                    continue
            elif member in converted:
                # An exact spelling wins over a folded one: {"tag": 1, "Tag": [...]}.
                replaced = self._key_of(value, member, key)
                ctx.notes.append(f"dropped duplicate member {log_path}.{replaced}")
            plan = member_plans.get(member) or self.member_plan(member)
            # _is_hidden inlined: a native value is a hashable scalar.
            if item.__class__ is plan.native_type and item not in HIDDEN_MARKERS:
                converted[member] = item
            else:
                self._assign(converted, member, plan, key, item, ctx, log_path, path)
        if leftovers:
            self._place_leftovers(converted, leftovers, ctx, log_path, path)
        if ctx.is_request:
            for member in self.required:
                if member not in converted:
                    member_path = _join(path, member)
                    ctx.hidden.append(member_path)
                    converted[member] = self.member_plan(member).placeholder(ctx, member_path)
            if self.sensitive:
                unlogged = [_join(path, m) for m in self.sensitive if m not in converted]
                if unlogged:
                    ctx.notes.append(
                        "sensitive members CloudTrail never logs (the call may have sent them): "
                        + ", ".join(unlogged)
                    )
        return converted

    def _key_of(self, value: dict, member: str, other_than: str) -> str:
        """The logged key, other than ``other_than``, that was matched to ``member``."""
        return next(
            (key for key in value if key != other_than and self.resolve_key(key) == member),
            member,
        )

    def _assign(self, converted, member, plan, key, item, ctx, log_path, path):
        if item is None:
            converted.pop(member, None)
            return
        if _is_empty_marker(item, plan) and not (
            isinstance(plan, _StructurePlan) and member in self.required
        ):
            converted.pop(member, None)
            return
        item = plan.convert_value(item, ctx, f"{log_path}.{key}", _join(path, member))
        if item is _DROP:
            converted.pop(member, None)
        else:
            converted[member] = item

    def _place_leftovers(self, converted, leftovers, ctx, log_path, path):
        for key, item in leftovers:
            if key.lower() in _TRANSPORT_KEYS or item is None or item == {}:
                continue
            if self._place_wrapped_items(converted, key, item, ctx, log_path, path):
                continue
            payload = self.payload
            if (
                ctx.is_request
                and payload
                and payload not in converted
                and (item.__class__ in (dict, list) or key.lower().endswith(payload.lower()))
            ):
                # An S3 body CloudTrail logs under its own name ("bucketPolicy").
                plan = self.member_plan(payload)
                self._assign(converted, payload, plan, key, item, ctx, log_path, path)
                continue
            ctx.notes.append(f"dropped unknown member {log_path}.{key}")

    def _place_wrapped_items(self, converted, key, item, ctx, log_path, path) -> bool:
        """EC2 wrappers whose name matches no member: ``instancesSet: {items: [{instanceId}]}``
        is the InstanceIds list; ``instancesSet: {items: [{imageId, minCount, maxCount}]}`` in
        RunInstances holds top-level members."""
        items = item
        if items.__class__ is dict and len(items) == 1:
            (wrapper,) = items
            if wrapper.lower() in _LIST_WRAPPER_KEYS:
                items = items[wrapper]
        if items.__class__ is dict:
            items = [items]
        if items.__class__ is not list or not items:
            return False
        if not all(entry.__class__ is dict for entry in items):
            return False
        keys = {entry_key for entry in items for entry_key in entry}
        if len(keys) == 1 and all(len(entry) == 1 for entry in items):
            (inner_key,) = keys
            member = self.resolve_key(inner_key)
            if member is not None and member not in converted:
                plan = self.member_plan(member)
                if isinstance(plan, _ListPlan):
                    self._assign(converted, member, plan, key, items, ctx, log_path, path)
                    return True
        if len(items) == 1:
            members = {entry_key: self.resolve_key(entry_key) for entry_key in items[0]}
            if all(m is not None and m not in converted for m in members.values()):
                for entry_key, member in members.items():
                    plan = self.member_plan(member)
                    self._assign(
                        converted, member, plan, f"{key}[0].{entry_key}", items[0][entry_key],
                        ctx, log_path, path,
                    )
                return True
        return False

    def placeholder(self, ctx, path):
        filled = {}
        members = self.required
        if self.union and not members:
            members = tuple(self.shape.members)[:1]
        for member in members:
            member_path = _join(path, member)
            ctx.hidden.append(member_path)
            filled[member] = self.member_plan(member).placeholder(ctx, member_path)
        return filled


_SCALAR_PLANS: dict[str, Callable[[botocore.model.Shape], _Plan]] = {
    "string": lambda shape: _EnumPlan(shape) if shape.metadata.get("enum") else _StringPlan(shape),
    "character": _StringPlan,
    "integer": lambda shape: _NumberPlan(shape, int),
    "long": lambda shape: _NumberPlan(shape, int),
    "short": lambda shape: _NumberPlan(shape, int),
    "byte": lambda shape: _NumberPlan(shape, int),
    "biginteger": lambda shape: _NumberPlan(shape, int),
    "float": lambda shape: _NumberPlan(shape, float),
    "double": lambda shape: _NumberPlan(shape, float),
    "bigdecimal": lambda shape: _NumberPlan(shape, float),
    "boolean": _BooleanPlan,
    "timestamp": _TimestampPlan,
    "blob": _BlobPlan,
}


class _ServicePlans:
    """One service's model and the plans compiled from it, by shape name."""

    def __init__(self, name: str, model: botocore.model.ServiceModel):
        self.name = name
        self.model = model
        self._plans: dict[str, _Plan] = {}

    def for_shape(self, shape: botocore.model.Shape) -> _Plan:
        plan = self._plans.get(shape.name)
        if plan is None:
            if shape.type_name == "structure":
                if shape.is_document_type:
                    plan = _DocumentPlan(shape)
                else:
                    plan = _StructurePlan(shape, self)
            elif shape.type_name == "list":
                plan = _ListPlan(shape, self)
            elif shape.type_name == "map":
                plan = _MapPlan(shape, self)
            else:
                plan = _SCALAR_PLANS.get(shape.type_name, _DocumentPlan)(shape)
            self._plans[shape.name] = plan
        return plan


class _Operation:
    """Everything derived once per (service, operation)."""

    __slots__ = (
        "service", "name", "input_shape", "input_plan", "output_plan",
        "request_wrappers", "response_wrappers", "subresource_markers",
    )

    def __init__(self, plans: _ServicePlans, name: str):
        operation = plans.model.operation_model(name)
        self.service = plans.name
        self.name = name
        self.input_shape = operation.input_shape
        self.input_plan = plans.for_shape(operation.input_shape) if operation.input_shape else None
        self.output_plan = (
            plans.for_shape(operation.output_shape) if operation.output_shape else None
        )
        # EC2 sometimes logs the whole request inside {"CreateNatGatewayRequest": {...}}.
        self.request_wrappers = {name + "Request"}
        if operation.input_shape:
            self.request_wrappers.add(operation.input_shape.name)
        self.response_wrappers = {name + "Response", name + "Result"}
        if operation.output_shape:
            self.response_wrappers.add(operation.output_shape.name)
        # S3 logs the sub-resource of "/{Bucket}?policy" as "policy": "".
        query = operation.http.get("requestUri", "").partition("?")[2]
        self.subresource_markers = frozenset(
            part.partition("=")[0].lower() for part in query.split("&") if part
        )


def _read_service_metadata(loader: botocore.loaders.Loader, service: str) -> dict:
    """A service model's metadata, read from the head of its file: the models put it first, and
    reading all of them whole to find one event source would take seconds."""
    version = loader.determine_latest_version(service, "service-2")
    for search_path in loader.search_paths:
        base = os.path.join(search_path, service, version, "service-2.json")
        for path, opener in ((base, open), (base + ".gz", gzip.open)):
            if os.path.isfile(path):
                with opener(path, "rb") as model_file:
                    head = model_file.read(8192).decode("utf-8", "replace")
                found = _METADATA_KEY.search(head)
                if found:
                    try:
                        return json.JSONDecoder().raw_decode(head, found.end() - 1)[0]
                    except ValueError:
                        pass
                return loader.load_service_model(service, "service-2")["metadata"]
    return loader.load_service_model(service, "service-2")["metadata"]


class Normalizer:
    """Maps CloudTrail records onto botocore operations; reuse one instance, it caches."""

    def __init__(self, loader: botocore.loaders.Loader | None = None):
        self._loader = loader or botomodels.loader()
        self._validator = botocore.validate.ParamValidator()
        self._services_by_host: dict[str, list[str]] | None = None
        self._service_plans: dict[str, _ServicePlans] = {}
        self._operations: dict[tuple[str, str], _Operation | str] = {}

    def normalize(self, record: dict) -> CanonicalCall:
        """The canonical call of one record; raises NotMappable with the reason."""
        operation = self._operation(record.get("eventSource"), record.get("eventName"))
        params, request_context = _convert_request(record.get("requestParameters"), operation)
        if operation.input_shape is not None:
            self._validate(params, operation.input_shape)
        # The response's notes follow the request's, in one list.
        response_context = _Context(is_request=False, notes=request_context.notes)
        response = _convert_response(record.get("responseElements"), operation, response_context)
        return CanonicalCall(
            service=operation.service,
            operation=operation.name,
            params=params,
            response=response,
            hidden=request_context.hidden,
            notes=request_context.notes,
        )

    def _validate(self, params: dict, input_shape: botocore.model.Shape) -> None:
        try:
            report = self._validator.validate(params, input_shape)
        except (RuntimeError, OverflowError, ValueError, TypeError) as error:
            # botocore parses timestamp values while validating and can fail doing so.
            first_error = str(error)
        else:
            if not report.has_errors():
                return
            first_error = report.generate_report()
        first_error = first_error.partition("\n")[0]
        if len(first_error) > _MAX_REASON_LENGTH:
            first_error = first_error[: _MAX_REASON_LENGTH - 3] + "..."
        raise NotMappable(f"request does not validate: {first_error}")

    def resolve(self, event_source: str, event_name: str) -> tuple[str, str]:
        """The botocore (service, operation) an event names; raises NotMappable."""
        operation = self._operation(event_source, event_name)
        return operation.service, operation.name

    @staticmethod
    def is_read_only(service: str, operation: str) -> bool:
        """Whether a botocore operation only reads, by the AWS naming convention."""
        return operation.startswith(READ_ONLY_PREFIXES)

    # -- event source and event name -------------------------------------------------------

    def _operation(self, event_source, event_name) -> _Operation:
        if not event_source or event_source.__class__ is not str:
            raise NotMappable("record has no eventSource")
        if not event_name or event_name.__class__ is not str:
            raise NotMappable("record has no eventName")
        key = (event_source, event_name)
        operation = self._operations.get(key)
        if operation is None:
            operation = self._operations[key] = self._resolve_operation(event_source, event_name)
        if operation.__class__ is str:
            raise NotMappable(operation)
        return operation

    def _resolve_operation(self, event_source: str, event_name: str) -> _Operation | str:
        prefix, _, domain = event_source.partition(".")
        services = self._services_for_host_prefix(prefix) if domain == "amazonaws.com" else []
        if not services:
            return f"unknown service {_quoted(event_source)}"
        for service in services:
            plans = self._plans(service)
            name = self._operation_name(plans, event_name)
            if name is not None:
                return _Operation(plans, name)
        return f"{services[0]} has no operation {_quoted(event_name)}"

    def _services_for_host_prefix(self, prefix: str) -> list[str]:
        """Services an event source's host prefix may name, best first: the service of that
        name, then those with that endpointPrefix, signingName, service id."""
        if self._services_by_host is None:
            ranked: dict[str, list[tuple[int, str]]] = {}
            for service in self._loader.list_available_services("service-2"):
                metadata = _read_service_metadata(self._loader, service)
                service_id = metadata.get("serviceId", "").lower().replace(" ", "-")
                keys = (
                    service, metadata.get("endpointPrefix"), metadata.get("signingName"),
                    service_id,
                )
                for rank, key in enumerate(keys):
                    if key:
                        ranked.setdefault(key, []).append((rank, service))
            self._services_by_host = {
                key: list(dict.fromkeys(service for _, service in sorted(candidates)))
                for key, candidates in ranked.items()
            }
        return self._services_by_host.get(prefix, [])

    def _plans(self, service: str) -> _ServicePlans:
        plans = self._service_plans.get(service)
        if plans is None:
            model = botocore.model.ServiceModel(
                self._loader.load_service_model(service, "service-2"), service_name=service
            )
            plans = self._service_plans[service] = _ServicePlans(service, model)
        return plans

    def _operation_name(self, plans: _ServicePlans, event_name: str) -> str | None:
        operations = plans.model.operation_names
        name = event_name if event_name in operations else None
        if name is None:
            plain = _API_VERSION_SUFFIX.sub("", event_name)
            name = plain if plain in operations else None
        if name is None:
            name = CLOUDTRAIL_EVENT_NAMES.get((plans.name, event_name))
        if name is None and plans.model.protocol.startswith("rest"):
            name = _bucket_operation_name(plans.model, event_name)
        return None if name is None else _successor(plans.model, name)


def _bucket_operation_name(model: botocore.model.ServiceModel, event_name: str) -> str | None:
    """S3 event names add or drop "Bucket" after the verb (PutBucketPublicAccessBlock is
    PutPublicAccessBlock, GetAccelerateConfiguration is GetBucketAccelerateConfiguration):
    accept the other spelling when it names a bucket operation with that HTTP method."""
    with_infix = _BUCKET_INFIX.match(event_name)
    with_verb = _VERB.match(event_name)
    if with_infix:
        candidate, verb = with_infix[1] + with_infix[2], with_infix[1]
    elif with_verb:
        candidate, verb = with_verb[1] + "Bucket" + with_verb[2], with_verb[1]
    else:
        return None
    if candidate not in model.operation_names:
        return None
    http = model.operation_model(candidate).http
    if http.get("method") == verb.upper() and http.get("requestUri", "").startswith("/{Bucket}"):
        return candidate
    return None


def _successor(model: botocore.model.ServiceModel, name: str) -> str:
    """A deprecated REST operation's successor on the same HTTP binding: CloudTrail logs
    PutBucketLifecycleConfiguration as PutBucketLifecycle."""
    operation = model.operation_model(name)
    if not operation.deprecated or not model.protocol.startswith("rest"):
        return name
    binding = (operation.http.get("method"), operation.http.get("requestUri"))
    for other in model.operation_names:
        other_operation = model.operation_model(other)
        other_binding = (other_operation.http.get("method"), other_operation.http.get("requestUri"))
        if not other_operation.deprecated and other_binding == binding:
            return other
    return name


def _convert_request(logged, operation: _Operation) -> tuple[dict, _Context]:
    """requestParameters on the operation's input shape, with what the conversion noted."""
    context = _Context(is_request=True)
    plan = operation.input_plan
    if logged.__class__ is str:
        if logged in HIDDEN_MARKERS:
            context.notes.append("requestParameters is hidden by CloudTrail")
            return (plan.placeholder(context, "") if plan else {}), context
        try:
            logged = json.loads(logged)
        except ValueError:
            raise NotMappable("requestParameters is neither an object nor JSON") from None
    if logged is None:
        logged = {}
    if logged.__class__ is not dict:
        raise NotMappable("requestParameters is not an object")
    if len(logged) == 1:
        (wrapper,) = logged
        if wrapper in operation.request_wrappers and logged[wrapper].__class__ is dict:
            logged = logged[wrapper]
    if operation.subresource_markers:
        logged = {
            key: value for key, value in logged.items()
            if not (key.lower() in operation.subresource_markers and value in ("", [""]))
        }
    logged = _renamed_members(logged, operation)
    if plan is None:
        for key in logged:
            if key.lower() not in _TRANSPORT_KEYS:
                context.notes.append(f"dropped unknown member requestParameters.{key}")
        return {}, context
    return plan.convert(logged, context, "requestParameters", ""), context


def _renamed_members(logged: dict, operation: _Operation) -> dict:
    """Top-level members under the names the model knows (CLOUDTRAIL_MEMBER_NAMES)."""
    renamed = CLOUDTRAIL_MEMBER_NAMES.get((operation.service, operation.name))
    if not renamed:
        return logged
    return {renamed.get(key, key): value for key, value in logged.items()}


def _convert_response(logged, operation: _Operation, context: _Context) -> dict | None:
    """responseElements on the operation's output shape; problems become notes, never errors."""
    if logged is None:
        return None
    if logged.__class__ is str:
        try:
            logged = json.loads(logged)
        except ValueError:
            pass
    if logged.__class__ is not dict:
        context.notes.append("dropped responseElements: not an object")
        return None
    if len(logged) == 1:
        (wrapper,) = logged
        if wrapper in operation.response_wrappers and logged[wrapper].__class__ is dict:
            logged = logged[wrapper]
    logged = _renamed_members(logged, operation)
    plan = operation.output_plan
    if plan is None:
        for key in logged:
            if key.lower() not in _TRANSPORT_KEYS:
                context.notes.append(f"dropped unknown member responseElements.{key}")
        return {}
    wrapped = plan.single_structure_member
    if wrapped and wrapped not in {plan.resolve_key(key) for key in logged}:
        # A query-protocol result wraps one structure ({"DBInstance": {...}}) that CloudTrail
        # logs unwrapped.
        member_plan = plan.member_plan(wrapped)
        response = member_plan.convert(logged, context, "responseElements", wrapped)
        return None if response is _DROP else {wrapped: response}
    response = plan.convert(logged, context, "responseElements", "")
    return None if response is _DROP else response
