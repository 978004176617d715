"""EventBridge event patterns with exactly the operators EventBridge Pipes supports in filters.

Contract:
- :func:`compile_pattern` validates a pattern (JSON text or dict) and returns a :class:`Pattern`;
  :func:`compile_filters` does the same for the Pipes ``FilterCriteria.Filters`` list (0-5 filters of
  ``{"Pattern": "<json>"}``, each at most 4096 characters) and returns a :class:`FilterSet` that matches
  a record when ANY of its patterns matches (every record when there are none). Anything unsupported
  or malformed raises :class:`PatternError` naming the field path and the operator, so a pipe can be
  refused when it is picked up. Matching itself never raises.
- Give the matcher the record as filters see it (``records.filterable_view``): fields that Pipes adds
  after filtering are not there in AWS either.

Semantics (AWS pages eb-create-pattern-operators, eb-event-patterns-arrays, eb-pipes-event-filtering):
- Fields in one object are ANDed; the values in a leaf array are ORed; ``"$or": [{..}, {..}]`` ORs
  sub-patterns (at least two non-empty objects).
- Leaf values: exact strings, numbers (compared as numbers, so ``300`` equals ``3.0e2``), booleans,
  ``null`` and ``""``; objects with ONE operator: ``prefix`` / ``suffix`` (a string, or
  ``{"equals-ignore-case": "..."}``), ``equals-ignore-case``, ``anything-but`` (a string, a number, or a
  non-empty list of only strings or only numbers), ``numeric`` (``=``, or one lower and/or one upper
  bound among ``> >= < <=``; bounds are JSON numbers within +-1e9), ``exists`` (true/false).
- Not supported by Pipes and rejected: ``wildcard``, ``cidr``, ``anything-but`` with an object (prefix,
  suffix, equals-ignore-case, wildcard), and any other key.
- String operators match strings only; ``numeric`` matches JSON numbers only (never a DynamoDB ``N``
  string, never a boolean, never a number outside +-1e9); ``anything-but`` matches any present value not
  listed (of any type), but never a missing field.
- A missing field matches nothing but ``{"exists": false}``. ``exists`` looks at leaf values only: a
  field whose value is an object (or an array with no scalar in it, e.g. ``[]``) does not "exist" as a
  leaf, so ``exists: false`` matches it and ``exists: true`` does not (AWS's own example).
- Arrays in the event: a leaf matches if ANY element matches (nested arrays are flattened); a nested
  pattern over an array of objects matches if ANY element matches it as a whole. That is EventBridge's
  array-consistent matching: two fields never match from different elements of one array. [U] Within an
  array of objects, ``exists: false`` is judged per element too (``{"a": [{"c": 1}, {"b": 1}]}`` matches
  ``{"a": {"b": [{"exists": false}]}}`` through its first element).
- Numbers are compared with 6 digits after the decimal point, as EventBridge documents.
- [U] An empty pattern object (``{}`` at the top or nested) is rejected, as EventBridge's rule compiler
  does ("Empty objects are not allowed"); ``"$or"`` always means OR here (never a field name).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096
NUMERIC_LIMIT = 1e9
_SIX_PLACES = Decimal("0.000001")
_HUGE = Decimal(10) ** 15
_UNSUPPORTED = {
    "wildcard": "wildcard matching is not supported by EventBridge Pipes filters",
    "cidr": "IP address (cidr) matching is not supported by EventBridge Pipes filters",
}
_MISSING = object()


class PatternError(ValueError):
    """A filter pattern EventBridge Pipes would refuse; the message names the field and operator."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _canonical(number: int | float) -> Decimal:
    """The number with 6 digits after the point (huge numbers as they are: they exceed any bound)."""
    exact = Decimal(repr(number))
    if abs(exact) >= _HUGE:
        return exact
    return exact.quantize(_SIX_PLACES, rounding=ROUND_HALF_EVEN)


# --- leaf matchers: each takes one present, non-object event value -------------------------------


@dataclass(frozen=True)
class _Exact:
    expected: Any

    def __call__(self, value: Any) -> bool:
        if self.expected is None or isinstance(self.expected, bool):
            return value is self.expected
        if isinstance(self.expected, str):
            return isinstance(value, str) and value == self.expected
        return _is_number(value) and math.isfinite(value) and _canonical(value) == self.expected


@dataclass(frozen=True)
class _Affix:
    text: str
    suffix: bool
    ignore_case: bool

    def __call__(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.ignore_case:
            value = value.lower()
        return value.endswith(self.text) if self.suffix else value.startswith(self.text)


@dataclass(frozen=True)
class _EqualsIgnoreCase:
    text: str

    def __call__(self, value: Any) -> bool:
        return isinstance(value, str) and value.lower() == self.text


@dataclass(frozen=True)
class _AnythingBut:
    strings: frozenset[str]
    numbers: frozenset[Decimal]

    def __call__(self, value: Any) -> bool:
        if isinstance(value, str):
            return value not in self.strings
        if _is_number(value) and math.isfinite(value):
            return _canonical(value) not in self.numbers
        return True


@dataclass(frozen=True)
class _Numeric:
    low: Decimal | None
    low_inclusive: bool
    high: Decimal | None
    high_inclusive: bool

    def __call__(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(value) or abs(value) > NUMERIC_LIMIT:
            return False
        number = _canonical(value)
        if self.low is not None and (number < self.low or (number == self.low and not self.low_inclusive)):
            return False
        return self.high is None or number < self.high or (number == self.high and self.high_inclusive)


# --- compiled tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    matchers: tuple[Any, ...]
    exists: frozenset[bool]

    def matches(self, value: Any) -> bool:
        scalars = [v for v in _flatten(value) if not isinstance(v, dict)]
        if not scalars:
            return False in self.exists
        return True in self.exists or any(m(v) for v in scalars for m in self.matchers)


@dataclass(frozen=True)
class _Object:
    fields: tuple[tuple[str, Any], ...]
    alternatives: tuple[tuple[_Object, ...], ...]

    def matches(self, obj: Any) -> bool:
        for name, child in self.fields:
            value = obj.get(name, _MISSING) if isinstance(obj, dict) else _MISSING
            if isinstance(child, _Leaf):
                if not child.matches(value):
                    return False
            else:
                candidates = [v for v in _flatten(value) if isinstance(v, dict)]
                if not (any(child.matches(c) for c in candidates) if candidates else child.matches(None)):
                    return False
        return all(any(alt.matches(obj) for alt in group) for group in self.alternatives)


def _flatten(value: Any) -> list[Any]:
    if value is _MISSING:
        return []
    if not isinstance(value, list):
        return [value]
    flat: list[Any] = []
    for item in value:
        flat.extend(_flatten(item))
    return flat


# --- compiler --------------------------------------------------------------------------------------


def _fail(path: str, message: str) -> PatternError:
    return PatternError(f"event pattern field {path or '<root>'!r}: {message}")


def _string_operand(path: str, operator: str, operand: Any) -> tuple[str, bool]:
    """``"x"`` or ``{"equals-ignore-case": "x"}`` -> (text, ignore_case); used by prefix and suffix."""
    if isinstance(operand, str):
        return operand, False
    if isinstance(operand, dict) and list(operand) == ["equals-ignore-case"]:
        inner = operand["equals-ignore-case"]
        if isinstance(inner, str):
            return inner.lower(), True
    raise _fail(path, f'"{operator}" needs a string or {{"equals-ignore-case": "<string>"}}, got {operand!r}')


def _number_operand(path: str, operator: str, operand: Any) -> Decimal:
    if not _is_number(operand) or not math.isfinite(operand):
        raise _fail(path, f'"{operator}" needs a JSON number, got {operand!r}')
    if abs(operand) > NUMERIC_LIMIT:
        raise _fail(path, f'"{operator}" value {operand!r} is outside the supported range -1e9..1e9')
    return _canonical(operand)


def _anything_but(path: str, operand: Any) -> _AnythingBut:
    if isinstance(operand, dict):
        kind = ", ".join(operand) or "an empty object"
        raise _fail(
            path,
            f'"anything-but" with {kind} is not supported by EventBridge Pipes; use a string, a number '
            "or a list of them",
        )
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise _fail(path, '"anything-but" needs at least one value')
    if all(isinstance(v, str) for v in values):
        return _AnythingBut(frozenset(values), frozenset())
    if all(_is_number(v) and math.isfinite(v) for v in values):
        return _AnythingBut(frozenset(), frozenset(_canonical(v) for v in values))
    raise _fail(path, f'"anything-but" takes only strings or only numbers, got {operand!r}')


_LOWER = {">": False, ">=": True}
_UPPER = {"<": False, "<=": True}


def _numeric(path: str, operand: Any) -> _Numeric:
    usage = 'use ["=", 5], [">", 0], ["<=", 5] or [">", 0, "<=", 5]'
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise _fail(path, f'"numeric" needs one or two (operator, number) pairs: {usage}; got {operand!r}')
    low = high = None
    low_inclusive = high_inclusive = False
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for op, number in pairs:
        bound = _number_operand(path, f"numeric {op}", number)
        if op == "=" and len(pairs) == 1:
            return _Numeric(bound, True, bound, True)
        if op in _LOWER and low is None:
            low, low_inclusive = bound, _LOWER[op]
        elif op in _UPPER and high is None:
            high, high_inclusive = bound, _UPPER[op]
        else:
            raise _fail(path, f'"numeric" operator {op!r} is not valid here: {usage}')
    if low is not None and high is not None and low >= high:
        raise _fail(path, f'"numeric" range {operand!r} is empty: the lower bound must be below the upper')
    return _Numeric(low, low_inclusive, high, high_inclusive)


def _operator(path: str, spec: dict[str, Any]) -> Any:
    if len(spec) != 1:
        raise _fail(path, f"an operator object needs exactly one operator, got {sorted(spec)!r}")
    (operator, operand), *_ = spec.items()
    if operator in _UNSUPPORTED:
        raise _fail(path, _UNSUPPORTED[operator])
    if operator in ("prefix", "suffix"):
        text, ignore_case = _string_operand(path, operator, operand)
        return _Affix(text, operator == "suffix", ignore_case)
    if operator == "equals-ignore-case":
        if not isinstance(operand, str):
            raise _fail(path, f'"equals-ignore-case" needs a string, got {operand!r}')
        return _EqualsIgnoreCase(operand.lower())
    if operator == "anything-but":
        return _anything_but(path, operand)
    if operator == "numeric":
        return _numeric(path, operand)
    if operator == "exists":
        if not isinstance(operand, bool):
            raise _fail(path, f'"exists" needs true or false, got {operand!r}')
        return operand
    raise _fail(
        path,
        f"unknown operator {operator!r}; Pipes supports prefix, suffix, equals-ignore-case, "
        "anything-but, numeric and exists",
    )


def _leaf(path: str, values: list[Any]) -> _Leaf:
    if not values:
        raise _fail(path, 'the value list is empty; give at least one value, as in ["x"]')
    matchers: list[Any] = []
    exists: set[bool] = set()
    for value in values:
        if isinstance(value, dict):
            compiled = _operator(path, value)
            if isinstance(compiled, bool):
                exists.add(compiled)
            else:
                matchers.append(compiled)
        elif value is None or isinstance(value, bool | str):
            matchers.append(_Exact(value))
        elif _is_number(value):
            if not math.isfinite(value):
                raise _fail(path, f"{value!r} is not a JSON number")
            matchers.append(_Exact(_canonical(value)))
        else:
            raise _fail(path, f"{value!r} is not a valid match value (nested arrays are not allowed)")
    return _Leaf(tuple(matchers), frozenset(exists))


def _object(path: str, spec: dict[str, Any]) -> _Object:
    if not spec:
        raise _fail(path, "empty objects are not allowed in an event pattern")
    fields: list[tuple[str, Any]] = []
    alternatives: list[tuple[_Object, ...]] = []
    for name, value in spec.items():
        child_path = f"{path}.{name}" if path else name
        if name == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise _fail(child_path, '"$or" needs a list of at least two pattern objects')
            alternatives.append(tuple(_object(f"{child_path}[{i}]", v) for i, v in enumerate(value)))
        elif isinstance(value, dict):
            fields.append((name, _object(child_path, value)))
        elif isinstance(value, list):
            fields.append((name, _leaf(child_path, value)))
        else:
            raise _fail(child_path, f"must be an object or an array of match values, got {value!r}")
    return _Object(tuple(fields), tuple(alternatives))


def _reject_constant(token: str) -> Any:
    raise PatternError(f"event pattern is not valid JSON: {token} is not a JSON number")


@dataclass(frozen=True)
class Pattern:
    """A compiled event pattern; ``text`` is its compact JSON form."""

    text: str
    _root: _Object

    def matches(self, event: dict[str, Any]) -> bool:
        """True when ``event`` (a JSON object) matches this pattern."""
        return self._root.matches(event)


def compile_pattern(pattern: str | dict[str, Any]) -> Pattern:
    """Validate and compile one event pattern (JSON text or an already parsed object)."""
    if isinstance(pattern, str):
        try:
            parsed = json.loads(pattern, parse_constant=_reject_constant)
        except json.JSONDecodeError as error:
            raise PatternError(f"event pattern is not valid JSON: {error}") from None
    else:
        parsed = pattern
    if not isinstance(parsed, dict):
        raise PatternError(f"event pattern must be a JSON object, got {type(parsed).__name__}")
    root = _object("", parsed)
    return Pattern(text=json.dumps(parsed, separators=(",", ":")), _root=root)


@dataclass(frozen=True)
class FilterSet:
    """The compiled filters of one pipe: a record passes when any pattern matches, or when none exist."""

    patterns: tuple[Pattern, ...] = ()

    def matches(self, record: dict[str, Any]) -> bool:
        """True when ``record`` passes the pipe's filters."""
        return not self.patterns or any(p.matches(record) for p in self.patterns)

    def __len__(self) -> int:
        return len(self.patterns)


def compile_filters(filters: list[dict[str, Any]] | None) -> FilterSet:
    """Compile ``FilterCriteria.Filters`` (``[{"Pattern": "<json>"}, ...]``); raises PatternError."""
    if not filters:
        return FilterSet()
    if not isinstance(filters, list | tuple):
        raise PatternError(f"FilterCriteria.Filters must be a list, got {type(filters).__name__}")
    if len(filters) > MAX_FILTERS:
        raise PatternError(
            f"a pipe takes at most {MAX_FILTERS} filters, got {len(filters)}; merge some with $or"
        )
    compiled = []
    for number, item in enumerate(filters, start=1):
        where = f"filter {number} of {len(filters)}"
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise PatternError(f'{where} must be {{"Pattern": "<event pattern JSON>"}}, got {item!r}')
        if len(text) > MAX_PATTERN_CHARS:
            raise PatternError(f"{where} is {len(text)} characters; the limit is {MAX_PATTERN_CHARS}")
        try:
            compiled.append(compile_pattern(text))
        except PatternError as error:
            raise PatternError(f"{where}: {error}") from None
    return FilterSet(tuple(compiled))
