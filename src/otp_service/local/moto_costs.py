"""moto's cost per call cut where otp-local's load spends it, with the same answers.

Profiled under the bench's 16-client load (py-spy, samples of the thread holding the GIL), over
70 % of request-token's CPU in otp-local went to moto checking expressions, not to the handler:

- every `UpdateItem` (and a transaction's `Update`; twice for a new item) ran moto's
  `UpdateExpressionValidator`: a `copy.deepcopy` of the parsed tree, then ten walks of it, where
  each visit of each node rebuilt the walker's table of node types and tested the node with
  `isinstance` on abstract classes, and two checks searched the whole tree again from every
  node. Here the tree is copied by unpickling a pickle made once per parsed expression; a walker
  finds what to do with a node by the node's class, in a table filled once per class; and the
  three checks that read only the expression, its names and the table's keys run once per such
  shape that passed them. The checks that read values and the item run every time.
- every condition (a `ConditionExpression`, a transaction's `ConditionCheck`) was lexed and
  parsed about ten times per request. Here a parse is kept for its expression, names and
  values, so a repeat (the same request checked again, or the same values later) reuses it.
- every item in an answer (a stream record's two images, an update's `ALL_NEW`) was serialized
  attribute by attribute through ten alias lookups each; a wire-format `AttributeValue` is
  now written by its own keys.
- every error of a JSON service (a failed condition, and the missing-attribute error moto
  raises and catches inside an update) rendered an XML body that its JSON body then replaced;
  it is no longer rendered. And every call listed its handler class's methods anew.

`tests/handlers/test_local_moto_costs.py` pins that the patched paths answer and fail as moto's
own do (the emulator's routing of the functions' calls is `emulator._dispatch`).
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_MAX_TREES = 1024
"""Distinct parsed expressions whose pickles are kept (moto's parse cache holds as many)."""
_MAX_CONDITIONS = 4096
"""Parsed conditions kept, least recently used dropped first."""


def install() -> None:
    """Patch moto's expression checks and its JSON answers; safe to call twice."""
    # moto loads slowly, and these modules are untyped for mypy (hence `Any`).
    errors: Any = importlib.import_module("moto.core.exceptions")
    responses: Any = importlib.import_module("moto.core.responses")
    serialize: Any = importlib.import_module("moto.core.serialize")
    comparisons: Any = importlib.import_module("moto.dynamodb.comparisons")
    ast_nodes: Any = importlib.import_module("moto.dynamodb.parsing.ast_nodes")
    validators: Any = importlib.import_module("moto.dynamodb.parsing.validators")
    if getattr(validators.deepcopy, "_otp_fast", False):
        return
    validators.deepcopy = _tree_copier(ast_nodes.Node)
    walker = ast_nodes.DepthFirstTraverser
    walker.traverse_node_recursively = _walk(ast_nodes.Node)
    _check_shapes_once(validators)
    _keep_condition_parses(comparisons.ConditionExpressionParser)
    _serialize_attribute_values_directly(serialize.BaseJSONSerializer)
    _json_errors_without_xml(errors.JsonRESTError)
    # Every call listed its handler class's methods with `inspect.getmembers` to see whether
    # the action is one of them; the list is the same each time for a class.
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def _json_errors_without_xml(error_class: Any) -> None:
    """moto's `JsonRESTError.__init__` minus the XML body its parent renders and it replaces."""
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415 - what _RESTError extends

    def __init__(self: Any, error_type: str, message: str, _: str = "", **__: Any) -> None:
        HTTPException.__init__(self)
        self.error_type = error_type
        self.message = message
        self.description = json.dumps({"__type": error_type, "message": message})
        self.content_type = "application/json"

    error_class.__init__ = __init__


def _serialize_attribute_values_directly(serializer: Any) -> None:
    """Serialize an `AttributeValue` held as a wire-format dict (`{"N": "5"}`) by its keys.

    moto's serializer looks each of the shape's ten members up through its alias providers,
    per value of every attribute of every item it answers with (a stream record's two images,
    an update's `ALL_NEW`); a dict holding only member names gives the same answer read
    directly, in the shape's member order. Anything else is left to moto.
    """
    moto_structure = serializer._serialize_type_structure

    def _serialize_type_structure(
        self: Any, serialized: dict[str, Any], value: Any, shape: Any, key: str
    ) -> None:
        members = shape.members
        if (
            not key
            or shape.name != "AttributeValue"
            or type(value) is not dict
            or not value.keys() <= members.keys()
        ):
            moto_structure(self, serialized, value, shape, key)
            return
        wrapper = self.MAP_TYPE()
        for member_key, member_shape in members.items():
            member_value = value.get(member_key)
            if member_value is not None:
                member_shape.parent = shape
                self._serialize(wrapper, member_value, member_shape, member_key)
        self._default_serialize(serialized, wrapper, shape, key)

    serializer._serialize_type_structure = _serialize_type_structure


def _keep_condition_parses(parser: Any) -> None:
    """moto's `ConditionExpressionParser.parse`, remembered for its expression, names and
    values, with the names and values it found used (moto checks none is left unused)."""
    kept: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()
    moto_parse = parser.parse

    def parse(self: Any) -> Any:
        key = (
            str(self.condition_expression),
            repr(sorted((self.expression_attribute_names or {}).items())),
            repr(sorted((self.expression_attribute_values or {}).items())),
        )
        with lock:
            hit = kept.get(key)
            if hit is not None:
                kept.move_to_end(key)
        if hit is None:
            names_before = len(self.expr_attr_names_found)
            values_before = len(self.expr_attr_values_found)
            condition = moto_parse(self)
            hit = (
                condition,
                self.expr_attr_names_found[names_before:],
                self.expr_attr_values_found[values_before:],
            )
            with lock:
                kept[key] = hit
                while len(kept) > _MAX_CONDITIONS:
                    kept.popitem(last=False)
            return condition
        condition, names, values = hit
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return condition

    lock = threading.Lock()
    parser.parse = parse


def _check_shapes_once(validators: Any) -> None:
    """Run the checks that read only the expression, its names and the table's keys (one ADD,
    SET and REMOVE clause at most, no overlapping paths, no key attribute updated) once per
    such shape that passed them; the checks that read the values and the item run every time."""
    static = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    passed: dict[tuple[int, frozenset[tuple[str, str]], tuple[str, ...]], Any] = {}
    validator = validators.UpdateExpressionValidator
    moto_init = validator.__init__

    def __init__(
        self: Any,
        expression: Any,
        expression_attribute_names: dict[str, str],
        expression_attribute_values: dict[str, Any],
        item: Any,
        table: Any,
    ) -> None:
        moto_init(
            self, expression, expression_attribute_names, expression_attribute_values, item, table
        )
        names = frozenset((expression_attribute_names or {}).items())
        self._otp_shape = (id(expression), names, tuple(table.table_key_attrs)), expression

    def validate(self: Any) -> Any:
        shape, expression = self._otp_shape
        known = passed.get(shape) is expression
        node = self.node_to_validate
        for processor in self.processors:
            if not (known and isinstance(processor, static)):
                node = processor.traverse(node)
        if not known:
            if len(passed) >= _MAX_TREES:
                passed.clear()
            passed[shape] = expression  # held, so its id names no other tree meanwhile
        return node

    validator.__init__ = __init__
    validator.validate = validate


def _tree_copier(node_type: type) -> Callable[[Any], Any]:
    """`copy.deepcopy`, except that a parsed tree is copied from a pickle made once."""
    pickles: dict[int, tuple[Any, bytes]] = {}

    def tree_copy(value: Any, memo: Any = None) -> Any:
        if memo is not None or not isinstance(value, node_type):
            return copy.deepcopy(value, memo)
        # Keyed by identity: moto's parse cache hands out the same tree for the same string,
        # and holding the tree here keeps its id from being reused by another.
        kept = pickles.get(id(value))
        if kept is None or kept[0] is not value:
            if len(pickles) >= _MAX_TREES:
                pickles.clear()
            kept = pickles[id(value)] = (value, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        return pickle.loads(kept[1])  # noqa: S301 - our own pickle of moto's parse tree

    tree_copy._otp_fast = True  # type: ignore[attr-defined]
    return tree_copy


def _walk(node_type: type) -> Callable[..., Any]:
    """moto's `traverse_node_recursively`, dispatching on the node's class through tables."""
    is_node: dict[type, bool] = {}
    choices: dict[tuple[type, type], int | None] = {}
    """(walker class, node class) -> the position of its processor in `_processing_map`."""

    def processor_for(walker: Any, kind: type) -> Callable[[Any], Any] | None:
        key = (type(walker), kind)
        if key not in choices:
            # moto: `isinstance(node, nodes_to_be_processed())`, then the first matching key.
            choices[key] = None
            if issubclass(kind, walker.nodes_to_be_processed()):
                handlers = enumerate(walker._processing_map())
                choices[key] = next(n for n, handled in handlers if issubclass(kind, handled))
        chosen = choices[key]
        if chosen is None:
            return None
        processors = walker.__dict__.get("_otp_processors")
        if processors is None:
            processors = list(walker._processing_map().values())
            walker.__dict__["_otp_processors"] = processors
        processor: Callable[[Any], Any] = processors[chosen]
        return processor

    def traverse_node_recursively(walker: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        known = is_node.get(kind)
        if known is None:
            known = is_node[kind] = issubclass(kind, node_type)
        if known:
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    walker.pre_processing_of_child(node, i)
                    traverse_node_recursively(walker, child_node, i)
            processor = processor_for(walker, kind)
            if processor is not None:
                node = processor(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    return traverse_node_recursively
