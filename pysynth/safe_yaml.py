"""YAML read as PyYAML's safe loader reads it, fast.

libyaml's loader where PyYAML has it (the pure-Python one takes seconds on big runbooks), with the
mappings, lists and strings a runbook is made of built straight from libyaml's nodes; the
pure-Python loader where libyaml refuses what YAML allows (an escaped lone surrogate), so that
what loads, and every error, is the safe loader's. Shared by the SSM rendering's read-back check,
the SSM document parser and the limit checks.
"""

from __future__ import annotations

import yaml

from pysynth import collector


def load(text: str):
    """``yaml.safe_load(text)``, in a fraction of the time on a large document (whose nodes and
    values all live until it is built: the cyclic collector is paused meanwhile)."""
    with collector.paused():
        if _RunbookLoader is not None:
            try:
                return yaml.load(text, Loader=_RunbookLoader)
            except yaml.YAMLError:
                pass
        return yaml.load(text, Loader=yaml.SafeLoader)


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _NotPlain(Exception):
    """A node the plain construction leaves to PyYAML's own (a merge key, a recursive alias)."""


if getattr(yaml, "CSafeLoader", None) is not None:
    class _RunbookLoader(yaml.CSafeLoader):
        """libyaml's safe loader, building the mappings, sequences and strings a runbook is made of
        directly from libyaml's nodes: PyYAML's generic construction costs three times libyaml's
        parse on a large runbook. Other scalars (numbers, booleans) are built by PyYAML's safe
        constructor; a document with anything else (merge keys, other tags, a recursive alias) is
        built by it whole, so the result is always what the safe loader gives."""

        def construct_document(self, node):
            try:
                return self._plain(node, set())
            except _NotPlain:
                return super().construct_document(node)

        def _plain(self, node, building: set[int]):
            tag = node.tag
            if tag == _STR and isinstance(node, yaml.ScalarNode):
                return node.value
            if isinstance(node, yaml.ScalarNode):
                return self.construct_object(node)
            if id(node) in building:
                raise _NotPlain
            building.add(id(node))
            if tag == _SEQ and isinstance(node, yaml.SequenceNode):
                value = [self._plain(item, building) for item in node.value]
            elif tag == _MAP and isinstance(node, yaml.MappingNode):
                value = {}
                for key_node, value_node in node.value:
                    if key_node.tag != _STR:
                        raise _NotPlain  # a merge key, or a key that is not text
                    value[key_node.value] = self._plain(value_node, building)
            else:
                raise _NotPlain
            building.discard(id(node))
            return value
else:  # pragma: no cover - PyYAML built without libyaml
    _RunbookLoader = None
