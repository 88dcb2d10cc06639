"""Secret masking over every secret name, every spelling of it and every free-text form, with
property-based inputs: the value never survives, the name and the rest of the text do."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from irkit.redact import MASK, redact, redact_text, register_secret

# The secret-valued fields of the AWS APIs and SDKs irkit sees, as words.
SECRET_NAMES = (
    ("secret", "access", "key"),
    ("session", "token"),
    ("security", "token"),  # X-Amz-Security-Token, AWS_SECURITY_TOKEN
    ("password",),
    ("new", "password"),
    ("master", "user", "password"),
    ("password", "data"),  # ec2:GetPasswordData
    ("private", "key"),
    ("key", "material"),  # ec2:CreateKeyPair
    ("secret", "string"),  # secretsmanager:GetSecretValue
    ("secret", "binary"),
    ("client", "secret"),
    ("secret",),
)
PREFIXES = ((), ("aws",), ("x", "amz"))
STYLES: dict[str, Callable[[tuple[str, ...]], str]] = {
    "CamelCase": lambda w: "".join(x.capitalize() for x in w),
    "lowerCamel": lambda w: w[0] + "".join(x.capitalize() for x in w[1:]),
    "snake_case": lambda w: "_".join(w),
    "UPPER_CASE": lambda w: "_".join(w).upper(),
    "kebab-case": lambda w: "-".join(w),
    "Header-Case": lambda w: "-".join(x.capitalize() for x in w),
    "lowercase": lambda w: "".join(w),
}
# Free-text forms; {q} marks a form whose value may hold spaces (it is quoted).
FORMS = {
    "name=value": "{n}={v}",
    "name = value": "{n} = {v}",
    "name: value": "{n}: {v}",
    "name:value": "{n}:{v}",
    'name="value"': '{n}="{v}"',
    "name='value'": "{n}='{v}'",
    '"name": "value"': '"{n}": "{v}"',
    '"name":"value"': '"{n}":"{v}"',
    "'name': 'value'": "'{n}': '{v}'",
    "name: 'value'": "{n}: '{v}'",
}
QUOTED = {k for k, f in FORMS.items() if "'{v}'" in f or '"{v}"' in f}
# Values as credentials look: base64-ish tokens, passwords with punctuation.
TOKEN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=-_.!@#%^*", min_size=6, max_size=40
)
SPACED = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABC0123456789 !@#$%^&*()", min_size=6, max_size=40).filter(
    lambda v: v.strip() == v and v.strip()
)
PROPERTY = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def spell(words: tuple[str, ...], prefix: tuple[str, ...], style: str) -> str:
    return STYLES[style]((*prefix, *words))


NAMES = st.builds(spell, st.sampled_from(SECRET_NAMES), st.sampled_from(PREFIXES), st.sampled_from(sorted(STYLES)))


def test_every_secret_name_in_every_spelling_and_form_is_masked() -> None:
    """The exhaustive grid (13 names x 3 prefixes x 7 spellings x 10 forms): no combination leaks."""
    value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYz9"
    leaks = []
    checked = 0
    for words in SECRET_NAMES:
        for prefix in PREFIXES:
            for style in STYLES:
                name = spell(words, prefix, style)
                for form, template in FORMS.items():
                    text = "before " + template.format(n=name, v=value) + " after"
                    out = redact_text(text)
                    checked += 1
                    if value in out or MASK not in out or name not in out or not out.endswith(" after"):
                        leaks.append((name, form, out))
    assert checked == len(SECRET_NAMES) * len(PREFIXES) * len(STYLES) * len(FORMS)
    assert leaks == []


@PROPERTY
@given(
    name=NAMES,
    form=st.sampled_from(sorted(FORMS)),
    value=TOKEN,
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
@example(name="SecretAccessKey", form="name=value", value="abcdef", before="", after="")  # the shortest bare value
@example(name="X-Amz-Security-Token", form="name=value", value="FwoGZXIvYXdzEJr//////////", before="?", after="&X")
def test_a_secret_value_never_survives_free_text(name: str, form: str, value: str, before: str, after: str) -> None:
    text = f"{before} {FORMS[form].format(n=name, v=value)} {after}"
    assume(value not in f"{before} {name} {after}" and value not in MASK)
    out = redact_text(text)
    assert value not in out
    assert name in out and MASK in out


@PROPERTY
@given(name=NAMES, form=st.sampled_from(sorted(QUOTED)), value=SPACED)
@example(name="Password", form='"name": "value"', value="correct horse battery staple")
def test_a_quoted_value_is_masked_up_to_its_closing_quote(name: str, form: str, value: str) -> None:
    text = FORMS[form].format(n=name, v=value) + " tail"
    words = [w for w in re.split(r"\W+", value) if len(w) >= 3]
    assume(value not in MASK and not [w for w in words if w in f"{name} {MASK} tail"])
    out = redact_text(text)
    assert value not in out
    assert not [w for w in words if w in out], out  # no word of a password with spaces is left
    assert out.endswith(" tail")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ('{"Password": "pa\\"ss word"}', 'pa\\"ss word'),  # an escaped quote inside a JSON value
        ("{'SecretAccessKey': 'it\\'s a secret'}", "it\\'s a secret"),
        ('password="unterminated value', "unterminated"),
        ("https://b.s3.amazonaws.com/k?X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F&X-Amz-Date=1", "FwoGZXIvYXdzEJr"),
        ("export AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr", "IQoJb3JpZ2luX2VjEJr"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
    ],
)
def test_free_text_forms_seen_in_the_wild(text: str, secret: str) -> None:
    assert secret not in redact_text(text)


def test_a_quoted_value_keeps_its_quotes_so_json_stays_json() -> None:
    doc = json.dumps({"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "wJalr XUtn", "Region": "eu-west-1"})
    assert json.loads(redact_text(doc)) == {
        "AccessKeyId": "AKIAEXAMPLE",
        "SecretAccessKey": MASK,
        "Region": "eu-west-1",
    }
    assert redact_text("password='hunter2-long'") == f"password='{MASK}'"
    assert redact_text("SessionToken=abcdefgh rest") == f"SessionToken={MASK} rest"
    assert redact_text('password="unterminated value') == f'password="{MASK} value'
    assert redact_text('"aws_secret_access_key" : "x"') == f'"aws_secret_access_key" : "{MASK}"'


def test_the_mask_is_the_documented_marker() -> None:
    assert MASK == "***redacted***"  # what a reader of a report or a journal greps for


@pytest.mark.parametrize(
    "text",
    [
        "Password: false",  # short bare words say there is no secret; they are kept
        "SecretAccessKey: null",
        "SessionToken=None",
        "denied secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:111111111111:secret:db",
        "the console password was removed; NextToken=eyJ2IjoxfQ",
        "aws:TokenIssueTime DateLessThan 2026-11-25T20:00:00Z",
        "s3://bucket/AWSLogs/secret-project/log.json.gz",
    ],
)
def test_text_without_a_secret_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


# -- structures ----------------------------------------------------------------------------------


def _nest(path: list[str | int], leaf: Any) -> Any:
    for step in reversed(path):
        leaf = [leaf] if isinstance(step, int) else {step: leaf}
    return leaf


SAFE_KEYS = st.sampled_from(
    ["AccessKeyId", "UserName", "Arn", "eventName", "NextToken", "requestParameters", "items", "PolicyName", "Tags"]
)
PATHS = st.lists(st.one_of(SAFE_KEYS, st.just(0)), max_size=5)


@PROPERTY
@given(path=PATHS, name=NAMES, value=TOKEN)
def test_a_value_under_a_secret_named_key_never_survives_at_any_depth(
    path: list[str | int], name: str, value: str
) -> None:
    assume(value not in MASK and not any(isinstance(p, str) and value in p for p in path) and value not in name)
    doc = _nest(path, {name: value, "UserName": "alice"})
    out = orjson.dumps(redact(doc)).decode()
    assert value not in out
    assert "alice" in out


@PROPERTY
@given(
    doc=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), TOKEN),
        lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(SAFE_KEYS, kids, max_size=3)),
        max_leaves=12,
    )
)
def test_structures_without_secrets_come_back_unchanged(doc: Any) -> None:
    # Tuples come back as lists; everything else is equal.
    assert redact(doc) == doc


def test_a_secret_key_holding_a_structure_masks_all_of_it() -> None:
    out = redact({"Credentials": {"SecretAccessKey": "s3cr3t-value!", "SessionToken": ["tok-en-value-1"]}})
    assert out == {"Credentials": {"SecretAccessKey": MASK, "SessionToken": MASK}}
    assert redact({"PrivateKey": {"pem": "-----BEGIN-----"}}) == {"PrivateKey": MASK}


def test_an_empty_secret_field_says_there_is_none() -> None:
    """A long-term key has no session token: showing a mask there would claim one was hidden."""
    assert redact({"SessionToken": None, "Password": ""}) == {"SessionToken": None, "Password": ""}


def test_tuples_and_lists_are_walked_and_non_string_keys_are_kept() -> None:
    out = redact(({"SecretAccessKey": "abc123456789"}, ["password=hunter2-long"], {7: "seven", None: "x"}))
    assert out == [{"SecretAccessKey": MASK}, [f"password={MASK}"], {7: "seven", None: "x"}]
    assert redact(42) == 42 and redact(None) is None and redact(b"bytes") == b"bytes"


# -- registered secrets --------------------------------------------------------------------------


# The registry is process-wide and only grows: each test registers values of its own (a forked
# mutation run inherits what earlier runs registered).


def fresh(length: int) -> str:
    return secrets.token_hex(length)[:length]


def test_a_registered_secret_is_masked_wherever_it_appears() -> None:
    secret = "registered-" + fresh(12)
    register_secret(secret, None, "")
    assert redact_text(f"x {secret} y {secret}") == f"x {MASK} y {MASK}"
    assert redact({"message": [f"at {secret}"]}) == {"message": [f"at {MASK}"]}


def test_secrets_of_eight_characters_and_more_are_registered_shorter_ones_are_not() -> None:
    eight, seven = fresh(8), fresh(7)
    register_secret(eight, seven)
    assert redact_text(f"a {eight} b") == f"a {MASK} b"
    assert redact_text(f"a {seven} b") == f"a {seven} b"  # a short word would mask common text everywhere


def test_a_secret_containing_another_is_masked_whole() -> None:
    inner = "zz-" + fresh(10)
    outer = f"aa-{inner}-{fresh(6)}"  # contains it in the middle: neither order of the alphabet helps
    register_secret(inner, outer)
    assert redact_text(f"leak? {outer}") == f"leak? {MASK}"
    assert redact_text(f"and {inner}") == f"and {MASK}"
