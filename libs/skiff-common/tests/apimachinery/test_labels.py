"""Label selectors: the Kubernetes string syntax, canonical printing, matching, LabelSelector protos."""

from __future__ import annotations

import pytest
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.labels import (
    EVERYTHING,
    make_requirement,
    parse_selector,
    selector_from_proto,
    selector_from_set,
)

WEB = {"app": "web", "tier": "frontend", "version": "3"}


@pytest.mark.parametrize(
    ("text", "canonical", "matches_web"),
    [
        ("", "", True),
        ("app=web", "app=web", True),
        ("app==web", "app==web", True),
        ("app!=web", "app!=web", False),
        ("app!=db", "app!=db", True),
        ("missing!=x", "missing!=x", True),  # != matches when the key is absent
        ("app in (web,db)", "app in (db,web)", True),
        ("app in (db)", "app in (db)", False),
        ("app notin (db)", "app notin (db)", True),
        ("missing notin (x)", "missing notin (x)", True),
        ("app", "app", True),
        ("missing", "missing", False),
        ("!missing", "!missing", True),
        ("!app", "!app", False),
        ("  app = web ,  tier   in ( frontend , x )  ", "app=web,tier in (frontend,x)", True),
        ("tier=frontend,app=web", "app=web,tier=frontend", True),  # sorted by key
        ("app=web,app=db", "app=db,app=web", False),
        ("version>2", "version>2", True),
        ("version<3", "version<3", False),
        ("app>2", "app>2", False),  # not an integer: no match
        ("app=", "app=", False),
        ("gone=", "gone=", False),
        ("example.com/team=a", "example.com/team=a", False),
        ("in in (in)", "in in (in)", False),
        ("app in (web,)", "app in (,web)", True),
    ],
)
def test_parse_print_match(text: str, canonical: str, matches_web: bool) -> None:
    selector = parse_selector(text)
    assert str(selector) == canonical
    assert parse_selector(str(selector)) == selector
    assert selector.matches(WEB) is matches_web
    assert selector.empty() is (text == "")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("app in web", "found 'web', expected: '('"),
        ("app in (web", "found 'end of string', expected: ',', ')' or identifier"),
        ("app in (a b)", "found 'b', expected: ',', ')' or identifier"),
        ("app web", "found 'web', expected: in, notin, =, ==, !=, gt, lt"),
        ("app=web=x", "found '=', expected: ',' or 'end of string'"),
        ("!app=web", "found '=', expected: ',' or 'end of string'"),
        (",app", "found ',', expected: !, identifier, or 'end of string'"),
        ("app,", "found 'end of string', expected: identifier after ','"),
        ("app=(x)", "found '(', expected: identifier"),
        ("!", "found 'end of string', expected: identifier"),
        ("app>x", "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("Bad_Prefix/key=x", 'invalid label key "Bad_Prefix/key": prefix part a lowercase RFC 1123 subdomain'),
        ("a/b/c=x", 'invalid label key "a/b/c": a qualified name must consist of'),
        ("-app=x", 'invalid label key "-app": name part must consist of alphanumeric'),
        ("app=-x", 'invalid label value "-x": a valid label must be an empty string'),
        ("app=" + "x" * 64, "must be no more than 63 characters"),
    ],
)
def test_parse_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_selector(text)
    assert str(info.value).startswith("unable to parse requirement: ")
    assert reason in str(info.value)


def test_selector_from_proto() -> None:
    sel = meta_pb2.LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[
            meta_pb2.LabelSelectorRequirement(key="tier", operator="In", values=["frontend", "edge"]),
            meta_pb2.LabelSelectorRequirement(key="canary", operator="DoesNotExist"),
            meta_pb2.LabelSelectorRequirement(key="version", operator="Exists"),
            meta_pb2.LabelSelectorRequirement(key="env", operator="NotIn", values=["prod"]),
        ],
    )
    selector = selector_from_proto(sel)
    assert str(selector) == "app=web,!canary,env notin (prod),tier in (edge,frontend),version"
    assert selector.matches(WEB)
    assert not selector.matches(WEB | {"canary": "1"})


def test_empty_and_missing_proto_select_everything() -> None:
    assert selector_from_proto(None) == EVERYTHING
    assert selector_from_proto(meta_pb2.LabelSelector()).matches({})
    assert selector_from_set({}).matches({"any": "thing"})


@pytest.mark.parametrize(
    ("req", "reason"),
    [
        (
            meta_pb2.LabelSelectorRequirement(key="a", operator="Equals", values=["x"]),
            '"Equals" is not a valid label selector operator',
        ),
        (meta_pb2.LabelSelectorRequirement(key="a", operator="In"), "values set can't be empty"),
        (meta_pb2.LabelSelectorRequirement(key="a", operator="Exists", values=["x"]), "values set must be empty"),
        (meta_pb2.LabelSelectorRequirement(key="a b", operator="Exists"), 'invalid label key "a b"'),
    ],
)
def test_invalid_proto(req: meta_pb2.LabelSelectorRequirement, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        selector_from_proto(meta_pb2.LabelSelector(match_expressions=[req]))


def test_selector_from_set_and_requirements() -> None:
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"
    assert selector_from_set({"a": "1"}).matches({"a": "1", "b": "2"})
    with pytest.raises(ValueError, match="exact-match compatibility requires one single value"):
        make_requirement("a", "=", ["x", "y"])
