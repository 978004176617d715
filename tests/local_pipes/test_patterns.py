"""Event-pattern matching as EventBridge Pipes filters do it.

Sources cited in the ids: ops = AWS page eb-create-pattern-operators (its table of examples and the Pipes
support column); content = eb-event-patterns-content-based-filtering; arrays = eb-event-patterns-arrays
and the event-ruler README (array-consistent matching); null = eb-event-patterns-null-values;
ref2 = pipes-semantics.md section 2; seed = seed-stack.md (the reference pipes' filters).
"""

from __future__ import annotations

import json

import pytest

from helpers.local.pipes.patterns import PatternError, compile_filters, compile_pattern

EC2 = {
    "version": "0",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "time": "2017-10-02T16:24:49Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "state": "running", "instance-id": "i-0"},
}
EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}
DDB = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"MaxTemp": {"N": "25"}}, "SizeBytes": 505}}

MATCH_CASES = [
    # exact values, AND across fields, OR within a value list
    pytest.param(
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        True,
        id="ops-and-both",
    ),
    pytest.param(
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Sunday"},
        False,
        id="ops-and-one-fails",
    ),
    pytest.param({"Name": ["Alice"]}, {"Name": "Alice"}, True, id="ops-equals"),
    pytest.param({"Name": ["Alice"]}, {"Name": "alice"}, False, id="ops-equals-is-case-sensitive"),
    pytest.param({"detail": {"state": ["initializing", "running"]}}, EC2, True, id="content-value-list-or"),
    pytest.param(
        {"source": ["aws.ec2"], "detail": {"state": ["stopped"]}}, EC2, False, id="content-nested-and-fails"
    ),
    pytest.param({"detail": {"c-count": [5]}}, EC2, True, id="exact-number"),
    pytest.param({"detail": {"x-limit": [3.018e2]}}, EC2, True, id="exact-number-other-notation"),
    pytest.param({"detail": {"c-count": ["5"]}}, EC2, False, id="exact-string-never-matches-number"),
    pytest.param({"x": [25]}, {"x": "25"}, False, id="ref2-exact-number-never-matches-N-string"),
    pytest.param({"flag": [True]}, {"flag": True}, True, id="exact-boolean"),
    pytest.param({"flag": [True]}, {"flag": "true"}, False, id="exact-boolean-not-string"),
    pytest.param({"n": [1]}, {"n": True}, False, id="exact-number-not-boolean"),
    pytest.param(
        {"detail": {"state": ["running"]}},
        {"detail": {"state": {"v": "running"}}},
        False,
        id="leaf-vs-object",
    ),
    # null and empty
    pytest.param({"LastName": [None]}, {"LastName": None}, True, id="null-matches-null"),
    pytest.param({"LastName": [None]}, {}, False, id="null-does-not-match-missing"),
    pytest.param({"LastName": [None]}, {"LastName": ""}, False, id="null-does-not-match-empty"),
    pytest.param({"LastName": [""]}, {"LastName": ""}, True, id="ops-empty"),
    pytest.param({"LastName": [""]}, {"LastName": None}, False, id="null-empty-not-null"),
    # prefix / suffix / equals-ignore-case
    pytest.param({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True, id="ops-prefix"),
    pytest.param({"Region": [{"prefix": "us-"}]}, {"Region": "eu-west-1"}, False, id="ops-prefix-no"),
    pytest.param({"time": [{"prefix": "2017-10-02"}]}, EC2, True, id="content-prefix-time"),
    pytest.param({"n": [{"prefix": "1"}]}, {"n": 123}, False, id="prefix-strings-only"),
    pytest.param(
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "EventBridge"},
        True,
        id="ops-prefix-ignore-case",
    ),
    pytest.param(
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "Pipes"},
        False,
        id="ops-prefix-ignore-case-no",
    ),
    pytest.param({"FileName": [{"suffix": ".png"}]}, {"FileName": "a.png"}, True, id="ops-suffix"),
    pytest.param(
        {"FileName": [{"suffix": ".png"}]}, {"FileName": "a.PNG"}, False, id="ops-suffix-case-sensitive"
    ),
    pytest.param(
        {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
        {"service": "EVENTBRIDGE"},
        True,
        id="ops-suffix-ignore-case",
    ),
    pytest.param(
        {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True, id="ops-equals-ignore-case"
    ),
    pytest.param(
        {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "alicia"}, False, id="ops-equals-ignore-case-no"
    ),
    # anything-but (plain values only in Pipes)
    pytest.param(
        {"state": [{"anything-but": "initializing"}]}, {"state": "running"}, True, id="ops-anything-but"
    ),
    pytest.param(
        {"state": [{"anything-but": "initializing"}]},
        {"state": "initializing"},
        False,
        id="ops-anything-but-excluded",
    ),
    pytest.param(
        {"state": [{"anything-but": "initializing"}]}, {}, False, id="anything-but-never-matches-missing"
    ),
    pytest.param(
        {"state": [{"anything-but": ["stopped", "overloaded"]}]},
        {"state": "stopped"},
        False,
        id="content-anything-but-list",
    ),
    pytest.param(
        {"x-limit": [{"anything-but": [100, 200, 300]}]},
        {"x-limit": 301.8},
        True,
        id="content-anything-but-numbers",
    ),
    pytest.param(
        {"x-limit": [{"anything-but": [100, 200, 300]}]},
        {"x-limit": 3e2},
        False,
        id="content-anything-but-numbers-excluded",
    ),
    pytest.param(
        {"x-limit": [{"anything-but": 123}]}, {"x-limit": "123"}, True, id="anything-but-number-vs-string"
    ),
    pytest.param(
        {"s": [{"anything-but": "a"}]}, {"s": ["a", "b"]}, True, id="arrays-anything-but-any-element"
    ),
    pytest.param({"s": [{"anything-but": "a"}]}, {"s": ["a"]}, False, id="arrays-anything-but-only-excluded"),
    # numeric
    pytest.param(
        {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, EC2, True, id="content-numeric-range"
    ),
    pytest.param(
        {"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}, EC2, False, id="numeric-open-upper"
    ),
    pytest.param({"detail": {"d-count": [{"numeric": ["<", 10]}]}}, EC2, True, id="content-numeric-lt"),
    pytest.param({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}, EC2, True, id="content-numeric-eq"),
    pytest.param({"n": [{"numeric": [">=", 10]}]}, {"n": 10}, True, id="numeric-ge-boundary"),
    pytest.param({"n": [{"numeric": [">", 10]}]}, {"n": 10}, False, id="numeric-gt-boundary"),
    pytest.param({"n": [{"numeric": ["<=", -1.5]}]}, {"n": -1.5}, True, id="numeric-negative"),
    pytest.param({"n": [{"numeric": ["=", 100]}]}, {"n": 100.0000001}, True, id="numeric-six-decimal-digits"),
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": 2e9}, False, id="numeric-event-out-of-range"),
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": "5"}, False, id="ref2-numeric-never-matches-string"),
    pytest.param({"n": [{"numeric": [">", 0]}]}, {"n": True}, False, id="numeric-never-matches-boolean"),
    pytest.param(
        {"dynamodb": {"NewImage": {"MaxTemp": {"N": [{"numeric": [">", 20]}]}}}},
        DDB,
        False,
        id="ref2-numeric-on-ddb-N",
    ),
    pytest.param(
        {"dynamodb": {"SizeBytes": [{"numeric": [">", 500]}]}}, DDB, True, id="ref2-numeric-on-SizeBytes"
    ),
    # exists (leaf nodes only)
    pytest.param({"detail": {"c-count": [{"exists": True}]}}, EC2, True, id="ops-exists-true"),
    pytest.param({"detail": {"nope": [{"exists": True}]}}, EC2, False, id="ops-exists-true-missing"),
    pytest.param(
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"state": "x"}},
        True,
        id="content-exists-false",
    ),
    pytest.param({"detail": {"c-count": [{"exists": False}]}}, EC2, False, id="content-exists-false-present"),
    pytest.param(
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"c-count": {"c1": 100}}},
        True,
        id="content-exists-false-not-leaf",
    ),
    pytest.param(
        {"detail": {"c-count": [{"exists": True}]}},
        {"detail": {"c-count": {"c1": 100}}},
        False,
        id="content-exists-true-not-leaf",
    ),
    pytest.param({"detail": {"c-count": [{"exists": False}]}}, {}, True, id="exists-false-parent-missing"),
    pytest.param({"a": [{"exists": True}]}, {"a": None}, True, id="exists-true-null-is-present"),
    pytest.param({"a": [{"exists": True}]}, {"a": []}, False, id="exists-true-empty-array"),
    pytest.param({"a": [{"exists": False}, "x"]}, {"a": "x"}, True, id="exists-or-value"),
    # $or
    pytest.param({"$or": [{"c": ["x"]}, {"d": ["y"]}]}, {"d": "y"}, True, id="ops-or-second"),
    pytest.param({"$or": [{"c": ["x"]}, {"d": ["y"]}]}, {"c": "y", "d": "x"}, False, id="ops-or-none"),
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": "aws.cloudwatch", "namespace": "AWS/EC2"},
        True,
        id="ruler-or-with-and",
    ),
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
        },
        {"source": "aws.s3", "namespace": "AWS/EC2"},
        False,
        id="ruler-or-and-fails",
    ),
    pytest.param(
        {"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"state": [{"prefix": "run"}]}]}},
        EC2,
        True,
        id="ops-or-nested-operators",
    ),
    pytest.param(
        {"$or": [{"a": ["1"]}, {"b": ["2"], "$or": [{"c": ["3"]}, {"d": ["4"]}]}]},
        {"b": "2", "d": "4"},
        True,
        id="ruler-or-nested-or",
    ),
    # arrays in the event
    pytest.param(
        {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"]},
        EC2,
        True,
        id="arrays-intersection",
    ),
    pytest.param({"tags": ["b", "z"]}, {"tags": ["a", "b"]}, True, id="arrays-any-element"),
    pytest.param({"tags": ["z"]}, {"tags": ["a", "b"]}, False, id="arrays-no-element"),
    pytest.param({"tags": ["c"]}, {"tags": [["a"], ["b", ["c"]]]}, True, id="arrays-nested-flattened"),
    pytest.param({"employees": {"firstName": ["Anna"]}}, EMPLOYEES, True, id="arrays-of-objects"),
    pytest.param(
        {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}},
        EMPLOYEES,
        True,
        id="arrays-same-element",
    ),
    pytest.param(
        {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}},
        EMPLOYEES,
        False,
        id="arrays-consistent-across-elements",
    ),
    pytest.param(
        {"employees": {"firstName": ["Anna"]}},
        {"employees": [[{"firstName": "Anna"}]]},
        True,
        id="arrays-multi-level",
    ),
    # missing fields
    pytest.param({"detail": {"nope": ["x"]}}, EC2, False, id="missing-field"),
    pytest.param({"nope": {"deeper": ["x"]}}, EC2, False, id="missing-parent"),
    # the reference pipes' filters on the reference record types
    pytest.param(
        {"eventName": ["INSERT", "MODIFY"]}, {"eventName": "INSERT"}, True, id="seed-cache-put-insert"
    ),
    pytest.param(
        {"eventName": ["INSERT", "MODIFY"]}, {"eventName": "MODIFY"}, True, id="seed-cache-put-modify"
    ),
    pytest.param(
        {"eventName": ["INSERT", "MODIFY"]}, {"eventName": "REMOVE"}, False, id="seed-cache-put-remove"
    ),
    pytest.param({"eventName": ["REMOVE"]}, {"eventName": "REMOVE"}, True, id="seed-cache-delete-remove"),
    pytest.param({"eventName": ["REMOVE"]}, {"eventName": "INSERT"}, False, id="seed-cache-delete-insert"),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_pattern_matching(pattern, event, expected):
    assert compile_pattern(pattern).matches(event) is expected
    assert compile_pattern(json.dumps(pattern)).matches(event) is expected  # the Pipes API passes JSON text


def test_content_filtering_complex_example():
    # content: "Complex example with multiple matching" (without cidr, which Pipes rejects)
    pattern = {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
        },
    }
    compiled = compile_pattern(pattern)
    assert compiled.matches(EC2)
    assert not compiled.matches({**EC2, "detail": {**EC2["detail"], "state": "initializing"}})


REJECT_CASES = [
    pytest.param('{"a": ["x"]', "not valid JSON", id="ref2-not-json"),
    pytest.param('{"a": [NaN]}', "not valid JSON", id="not-json-nan"),
    pytest.param('["a"]', "must be a JSON object", id="not-an-object"),
    pytest.param("{}", "empty objects", id="empty-pattern"),
    pytest.param('{"a": {}}', "'a'", id="empty-nested-object"),
    pytest.param('{"a": "x"}', "must be an object or an array", id="leaf-not-array"),
    pytest.param('{"a": 5}', "must be an object or an array", id="leaf-number-not-array"),
    pytest.param('{"a": []}', "empty", id="empty-value-list"),
    pytest.param('{"a": [["x"]]}', "nested arrays", id="nested-array-value"),
    pytest.param(
        '{"a": [{"wildcard": "*.png"}]}', "wildcard matching is not supported", id="ops-wildcard-unsupported"
    ),
    pytest.param('{"a": [{"cidr": "10.0.0.0/24"}]}', "cidr", id="ops-cidr-unsupported"),
    pytest.param(
        '{"a": [{"anything-but": {"prefix": "us-"}}]}',
        "anything-but",
        id="ops-anything-but-prefix-unsupported",
    ),
    pytest.param(
        '{"a": [{"anything-but": {"suffix": ".png"}}]}', "suffix", id="ops-anything-but-suffix-unsupported"
    ),
    pytest.param(
        '{"a": [{"anything-but": {"equals-ignore-case": "x"}}]}',
        "equals-ignore-case",
        id="ops-anything-but-ignore-case-unsupported",
    ),
    pytest.param(
        '{"a": [{"anything-but": {"wildcard": "*/lib/*"}}]}',
        "not supported by EventBridge Pipes",
        id="ops-anything-but-wildcard-unsupported",
    ),
    pytest.param('{"a": [{"anything-but": []}]}', "at least one", id="anything-but-empty"),
    pytest.param(
        '{"a": [{"anything-but": ["x", 1]}]}', "only strings or only numbers", id="content-anything-but-mixed"
    ),
    pytest.param(
        '{"a": [{"anything-but": true}]}', "only strings or only numbers", id="anything-but-boolean"
    ),
    pytest.param('{"a": [{"prefix": 5}]}', '"prefix" needs a string', id="prefix-not-string"),
    pytest.param('{"a": [{"suffix": {"foo": "x"}}]}', '"suffix" needs', id="suffix-bad-object"),
    pytest.param(
        '{"a": [{"equals-ignore-case": ["x"]}]}', "needs a string", id="equals-ignore-case-not-string"
    ),
    pytest.param('{"a": [{"exists": "yes"}]}', "true or false", id="exists-not-boolean"),
    pytest.param('{"a": [{"numeric": [">", "5"]}]}', "JSON number", id="numeric-string-bound"),
    pytest.param(
        '{"a": [{"numeric": [">", 2e9]}]}', "outside the supported range", id="ref2-numeric-out-of-range"
    ),
    pytest.param('{"a": [{"numeric": ["=", 1, "<", 5]}]}', "not valid here", id="numeric-eq-with-bound"),
    pytest.param('{"a": [{"numeric": [">", 1, ">", 5]}]}', "not valid here", id="numeric-two-lower"),
    pytest.param('{"a": [{"numeric": [">", 5, "<", 1]}]}', "is empty", id="numeric-empty-range"),
    pytest.param('{"a": [{"numeric": ["!=", 5]}]}', "not valid here", id="numeric-unknown-operator"),
    pytest.param('{"a": [{"numeric": [">"]}]}', "pairs", id="numeric-malformed"),
    pytest.param('{"a": [{"numeric": 5}]}', "pairs", id="numeric-not-list"),
    pytest.param(
        '{"a": [{"prefix": "x", "suffix": "y"}]}', "exactly one operator", id="two-operators-in-one-object"
    ),
    pytest.param('{"a": [{}]}', "exactly one operator", id="empty-operator-object"),
    pytest.param('{"a": [{"contains": "x"}]}', "unknown operator 'contains'", id="unknown-operator"),
    pytest.param('{"$or": [{"a": ["x"]}]}', '"$or" needs', id="or-single-branch"),
    pytest.param('{"$or": {"a": ["x"]}}', '"$or" needs', id="or-not-list"),
    pytest.param('{"$or": [{"a": ["x"]}, "b"]}', '"$or" needs', id="or-branch-not-object"),
    pytest.param('{"$or": [{"a": ["x"]}, {}]}', "empty objects", id="or-empty-branch"),
]


@pytest.mark.parametrize(("pattern", "message"), REJECT_CASES)
def test_pattern_rejected(pattern, message):
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert message in str(caught.value)


def test_error_names_the_field_path():
    with pytest.raises(PatternError, match=r"'dynamodb\.NewImage\.MaxTemp\.N'.*wildcard"):
        compile_pattern({"dynamodb": {"NewImage": {"MaxTemp": {"N": [{"wildcard": "2*"}]}}}})


FILTER_CASES = [
    pytest.param(None, {"eventName": "REMOVE"}, True, id="ref2-no-filters-pass-all"),
    pytest.param([], {"eventName": "REMOVE"}, True, id="ref2-empty-filters-pass-all"),
    pytest.param([{"Pattern": '{"eventName": ["INSERT"]}'}], {"eventName": "INSERT"}, True, id="one-filter"),
    pytest.param(
        [{"Pattern": '{"eventName": ["INSERT"]}'}, {"Pattern": '{"eventName": ["REMOVE"]}'}],
        {"eventName": "REMOVE"},
        True,
        id="ref2-any-filter-matches",
    ),
    pytest.param(
        [{"Pattern": '{"eventName": ["INSERT"]}'}, {"Pattern": '{"eventName": ["REMOVE"]}'}],
        {"eventName": "MODIFY"},
        False,
        id="ref2-no-filter-matches",
    ),
    pytest.param([{"Pattern": '{"a": ["b"]}'}] * 5, {"a": "b"}, True, id="ref2-five-filters"),
]


@pytest.mark.parametrize(("filters", "record", "expected"), FILTER_CASES)
def test_filter_sets(filters, record, expected):
    assert compile_filters(filters).matches(record) is expected


FILTER_REJECTS = [
    pytest.param([{"Pattern": '{"a": ["b"]}'}] * 6, "at most 5 filters", id="ref2-six-filters"),
    pytest.param(
        [{"Pattern": '{"a": ["' + "x" * 4090 + '"]}'}], "limit is 4096", id="ref2-pattern-over-4096"
    ),
    pytest.param([{"pattern": '{"a": ["b"]}'}], '{"Pattern"', id="filter-without-Pattern"),
    pytest.param({"Pattern": '{"a": ["b"]}'}, "must be a list", id="filters-not-a-list"),
    pytest.param(
        [{"Pattern": '{"a": ["b"]}'}, {"Pattern": '{"a": "b"}'}], "filter 2 of 2", id="error-names-filter"
    ),
]


@pytest.mark.parametrize(("filters", "message"), FILTER_REJECTS)
def test_filter_sets_rejected(filters, message):
    with pytest.raises(PatternError) as caught:
        compile_filters(filters)
    assert message in str(caught.value)


def test_pattern_of_exactly_4096_characters_is_accepted():
    # ref2: each pattern <= 4096 characters
    text = '{"a": ["' + "x" * (4096 - 11) + '"]}'
    assert len(text) == 4096
    assert len(compile_filters([{"Pattern": text}])) == 1
