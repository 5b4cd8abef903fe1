"""app/body.py's ``parse``: orjson where it reads a body exactly as json.loads would, json.loads
everywhere else, and the "plain numbers" flag only when it is true. The endpoints' error
messages for the same inputs are tested in test_bad_input.py."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.body import parse

# Any JSON value: what a client could send in a body.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=40,
)


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 and 1.0 differ; -0.0 and 0.0 differ; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a.hex() == b.hex()
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def has_odd_leaf(v: Any) -> bool:
    if isinstance(v, list):
        return any(has_odd_leaf(x) for x in v)
    if isinstance(v, dict):
        return any(has_odd_leaf(x) for x in v.values())
    return v is None or isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v))


@settings(max_examples=400, deadline=None)
@given(json_values, st.sampled_from([{}, {"indent": 1}, {"ensure_ascii": False}]))
def test_reads_any_body_as_json_loads_does(value: Any, style: dict[str, Any]) -> None:
    body = json.dumps(value, **style).encode()
    data, plain = parse(body)
    assert same(data, json.loads(body))
    if plain:  # the flag may be conservative (a "null" inside a string), never wrong
        assert not has_odd_leaf(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_every_double_reads_back_bit_for_bit(xs: list[float]) -> None:
    body = json.dumps({"input": xs}).encode()
    data, plain = parse(body)
    assert plain
    assert [x.hex() for x in data["input"]] == [x.hex() for x in xs]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10**17), st.integers(min_value=0, max_value=10**17),
       st.integers(min_value=-330, max_value=310))
def test_decimal_text_rounds_as_python_float(whole: int, frac: int, exp: int) -> None:
    """Numbers as people and other languages write them (not shortest repr): correctly rounded."""
    for text in (f"{whole}.{frac}", f"{whole}.{frac}e{exp}", f"-{frac}E{exp}", f"{whole}e{exp}"):
        expected = json.loads(text)
        got, _ = parse(text.encode())
        assert type(got) is type(expected)
        assert got == expected if not isinstance(expected, float) else got.hex() == expected.hex()


@pytest.mark.parametrize("body", [
    b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"x": 1e400}', b'{"x": -1e999}',
    b'{"x": 123456789012345678901234567890}', b'{"x": -9223372036854775809}', b'{"x": 18446744073709551616}',
    b'{"x": -1234567890123456789.5}', b'{"x": "\\ud800"}', '{"x": 1}'.encode("utf-16"),
    b"\xef\xbb\xbf" + b'{"x": 1}',
])
def test_what_orjson_reads_differently_goes_to_json_loads(body: bytes) -> None:
    data, plain = parse(body)
    assert not plain
    assert same(data, json.loads(body))


@pytest.mark.parametrize("body", [
    b'{"x": 0.1234567890123456789012}', b'{"x": 0.00012345678901234567}', b'{"x": 12345678901234567.8}',
    b'{"x": [1.5, 999999999999999999, -999999999999999999]}', b'{"x": 1e-400}', b'{"x": -0}',
])
def test_long_fractions_and_18_digit_integers_stay_on_orjson(body: bytes) -> None:
    data, plain = parse(body)
    assert plain
    assert same(data, json.loads(body))


@pytest.mark.parametrize("body", [
    b"", b"{", b'{"x": 1,}', b"[1 2]", b"01", b'{"x": tru}', b'"a\nb"', b"\xff", b"{}x", b'{"a" 1}',
])
def test_bad_json_fails_as_json_loads_fails(body: bytes) -> None:
    with pytest.raises(ValueError) as ours:
        parse(body)
    with pytest.raises(ValueError) as stdlib:
        json.loads(body)
    assert type(ours.value) is type(stdlib.value)
    assert str(ours.value) == str(stdlib.value)


def test_nesting_past_the_limits_fails_as_json_loads_fails() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        parse(body)


@pytest.mark.parametrize(("body", "plain"), [
    (b'{"input": [[0, 0.5], [1, 2]], "label": 1}', True),
    (b'{"input": [[0, true], [1, 2]]}', False),
    (b'{"input": [[0, false], [1, 2]]}', False),
    (b'{"input": [[0, null], [1, 2]]}', False),
    (b'{"input": [[0, 1]], "note": "nullable"}', False),  # conservative: the token is in a string
    (b'{"input": [[0, 1]], "s": "abc"}', True),  # strings are NumPy's to refuse (dtype)
])
def test_plain_flag(body: bytes, plain: bool) -> None:
    assert parse(body)[1] is plain


@pytest.mark.parametrize("path", ["/api/forward", "/api/backward", "/api/step", "/api/gradcheck", "/api/update"])
def test_plain_and_checked_bodies_give_the_same_answer(client: Any, seed_params: dict[str, Any],
                                                        bar_input: list[list[float]], path: str) -> None:
    """The same request with and without the plain-number fast path ("network": null turns it off)."""
    if path == "/api/update":
        body: dict[str, Any] = {"params": seed_params, "learning_rate": 0.25,
                                "gradients": {"d" + k: v for k, v in seed_params.items()}}
    else:
        body = {"params": seed_params, "input": bar_input, "label": 1}
        if path == "/api/step":
            body["learning_rate"] = 0.25
    plain = json.dumps(body).encode()
    checked = json.dumps({**body, "network": None}).encode()
    assert parse(plain)[1] and not parse(checked)[1]
    a, b = client.post_raw(path, plain), client.post_raw(path, checked)
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
