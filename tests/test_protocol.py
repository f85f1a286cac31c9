"""protocol.decode: every client message type, and every way a frame can be wrong.

The invariant (as in websockets' fuzzer): every input is either one of the message types or a
:class:`ProtocolError` with a documented code (``bad_json``, ``bad_message``, ``unknown_type``);
nothing else ever escapes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livequiz import protocol
from livequiz.protocol import (
    HOST_ACTIONS,
    MAX_NESTING,
    PLAYER_ACTIONS,
    QUESTION_ACTIONS,
    AnswerRequest,
    Hello,
    HostRequest,
    JoinRequest,
    ProtocolError,
    SyncRequest,
    decode,
)

CODES = {"bad_json", "bad_message", "unknown_type"}
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def encoded(message: Any) -> str:
    # The standard library, not orjson: it writes integers past 64 bits, as a client may.
    return json.dumps(message)


def refused(frame: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode(frame)
    assert caught.value.code in CODES
    assert caught.value.message == str(caught.value)
    return caught.value


# ---------------------------------------------------------------------- the messages


def test_answer() -> None:
    assert decode(encoded({"type": "answer", "q": 3, "option": 1})) == AnswerRequest(3, 1)


def test_hello() -> None:
    assert decode(encoded({"type": "hello", "token": "v1.abc.def"})) == Hello("v1.abc.def")


def test_hello_may_say_the_highest_sequence_number_drawn() -> None:
    hello = decode(encoded({"type": "hello", "token": "v1.abc.def", "seq": 42}))
    assert hello == Hello("v1.abc.def", seen_seq=42)
    assert decode(encoded({"type": "hello", "token": "t", "seq": 0})) == Hello("t", seen_seq=0)


@pytest.mark.parametrize(
    ("seq", "says"), [(-1, "out of range"), ("42", "whole number"), (1.5, "whole number")]
)
def test_a_hello_seq_that_is_no_sequence_number_is_a_bad_message(seq: Any, says: str) -> None:
    error = refused(encoded({"type": "hello", "token": "t", "seq": seq}))
    assert error.code == "bad_message"
    assert "'seq'" in error.message
    assert says in error.message


def test_join() -> None:
    frame = encoded({"type": "join", "pin": "482913", "nickname": "Anna"})
    assert decode(frame) == JoinRequest(pin="482913", nickname="Anna")


@pytest.mark.parametrize("action", sorted(HOST_ACTIONS - PLAYER_ACTIONS))
def test_host_actions_without_an_argument(action: str) -> None:
    assert decode(encoded({"type": "host", "action": action})) == HostRequest(action, None)


def test_host_actions_are_the_documented_sixteen() -> None:
    assert {
        "start", "close", "next", "skip", "end", "kick", "lock", "unlock", "let_in", "turn_away",
        "approve", "rename", "pause", "resume", "extra_time", "team",
    } == HOST_ACTIONS  # fmt: skip


@pytest.mark.parametrize("action", sorted(QUESTION_ACTIONS))
def test_a_host_action_about_the_question_may_name_it(action: str) -> None:
    named = decode(encoded({"type": "host", "action": action, "q": 3}))
    assert named == HostRequest(action, None, question=3)
    unnamed = decode(encoded({"type": "host", "action": action, "q": None}))
    assert unnamed == HostRequest(action, None)
    for wrong in ("3", 3.0, True, 2**31):
        with pytest.raises(ProtocolError) as caught:
            decode(encoded({"type": "host", "action": action, "q": wrong}))
        assert caught.value.code == "bad_message"
        assert "'q'" in caught.value.message


def test_q_on_another_host_action_is_ignored_like_any_unknown_field() -> None:
    assert {"close", "next", "skip", "pause", "resume"} == QUESTION_ACTIONS
    for action in sorted(HOST_ACTIONS - QUESTION_ACTIONS - PLAYER_ACTIONS):
        assert decode(encoded({"type": "host", "action": action, "q": "x"})) == HostRequest(
            action, None
        )


def test_rename_may_carry_the_new_name() -> None:
    named = encoded({"type": "host", "action": "rename", "player_id": 3, "nickname": "Brave Otter"})
    assert decode(named) == HostRequest("rename", 3, "Brave Otter")
    assert decode(encoded({"type": "host", "action": "rename", "player_id": 3})) == HostRequest(
        "rename", 3, None
    )


@pytest.mark.parametrize("action", ["let_in", "turn_away", "approve"])
def test_answering_a_rejoin_carries_the_player_id(action: str) -> None:
    assert decode(encoded({"type": "host", "action": action, "player_id": 7})) == HostRequest(
        action, 7
    )
    with pytest.raises(ProtocolError):
        decode(encoded({"type": "host", "action": action}))


def test_kick_carries_the_player_id() -> None:
    frame = encoded({"type": "host", "action": "kick", "player_id": 7})
    assert decode(frame) == HostRequest("kick", 7)


def test_a_player_id_is_ignored_for_other_actions() -> None:
    frame = encoded({"type": "host", "action": "start", "player_id": "whatever"})
    assert decode(frame) == HostRequest("start", None)


def test_sync() -> None:
    assert decode('{"type": "sync"}') == SyncRequest()


def test_bytes_decode_like_text() -> None:
    assert decode(b'{"type":"answer","q":0,"option":2}') == AnswerRequest(0, 2)


def test_unknown_fields_are_ignored() -> None:
    frame = encoded({"type": "answer", "q": 1, "option": 0, "player_id": 99, "v": 1})
    assert decode(frame) == AnswerRequest(1, 0)


def test_whitespace_and_key_order_do_not_matter() -> None:
    assert decode(' {\n "option" : 2 ,\t"q":1, "type":"answer" } ') == AnswerRequest(1, 2)


def test_a_repeated_key_takes_the_last_value() -> None:
    assert decode('{"type":"answer","q":1,"q":2,"option":0}') == AnswerRequest(2, 0)


@pytest.mark.parametrize("value", [INT32_MIN, -1, 0, INT32_MAX])
def test_ints_at_the_edges_of_the_range_are_accepted(value: int) -> None:
    # Range only: a negative index passes decode and is refused by the quiz (wrong_question).
    frame = encoded({"type": "answer", "q": value, "option": value})
    assert decode(frame) == AnswerRequest(value, value)


def test_texts_at_their_limits_are_accepted() -> None:
    assert decode(encoded({"type": "hello", "token": "t" * 512})) == Hello("t" * 512)
    frame = encoded({"type": "join", "pin": "1" * 64, "nickname": "n" * 64})
    assert decode(frame) == JoinRequest("1" * 64, "n" * 64)


def test_an_empty_token_decodes_and_is_left_to_verification() -> None:
    assert decode('{"type":"hello","token":""}') == Hello("")


def test_unicode_text_survives() -> None:
    frame = encoded({"type": "join", "pin": "482913", "nickname": "Zoë 🦊"})
    assert decode(frame.encode()) == JoinRequest("482913", "Zoë 🦊")


def test_messages_are_frozen() -> None:
    message = decode('{"type":"answer","q":0,"option":0}')
    # FrozenInstanceError, or TypeError for frozen slotted dataclasses on Python 3.11
    with pytest.raises((dataclasses.FrozenInstanceError, TypeError)):
        message.index = 1  # type: ignore[misc, union-attr]


# ---------------------------------------------------------------------- not a message at all


@pytest.mark.parametrize(
    "frame",
    [
        "",
        " ",
        "{",
        '{"type": "sync"',
        "{'type': 'sync'}",
        '{"type": "sync",}',
        "sync",
        "NaN",
        '{"q": NaN}',
        '{"type": "sync"} {"type": "sync"}',
        '{"type": "sync", "x": Infinity}',
        '{"type": "sync", "x": -Infinity}',
        '\ufeff\ufeff{"type": "sync"}',
        "[" * MAX_NESTING,
    ],
)
def test_non_json_is_bad_json(frame: str) -> None:
    error = refused(frame)
    assert (error.code, error.message) == ("bad_json", "the frame is not valid JSON")


@pytest.mark.parametrize("frame", [b"\xff\xfe", b'{"type":"join","pin":"\xc3","nickname":"x"}'])
def test_bytes_that_are_not_utf8_are_bad_json(frame: bytes) -> None:
    assert refused(frame).code == "bad_json"


@pytest.mark.parametrize(
    "frame", ["[]", '["answer", 1, 2]', '"answer"', "3", "1.5", "null", "true"]
)
def test_json_that_is_not_an_object_is_bad_message(frame: str) -> None:
    error = refused(frame)
    assert (error.code, error.message) == ("bad_message", "a message must be a JSON object")


@pytest.mark.parametrize("kind", [None, 1, True, 1.5, [], ["answer"], {}, {"type": "answer"}])
def test_a_type_that_is_not_a_string_is_bad_message(kind: Any) -> None:
    message = {} if kind is None else {"type": kind}
    for frame in (encoded(message), encoded({**message, "q": 1, "option": 1})):
        error = refused(frame)
        assert (error.code, error.message) == (
            "bad_message",
            "a message needs a string field 'type'",
        )


@pytest.mark.parametrize("kind", ["ping", "Answer", "ANSWER", " answer", "", "hello!", "kick"])
def test_an_unknown_type_is_unknown_type(kind: str) -> None:
    error = refused(encoded({"type": kind}))
    assert (error.code, error.message) == ("unknown_type", f"unknown message type {kind!r}")


def test_an_overlong_unknown_type_is_cut_in_the_message() -> None:
    error = refused(encoded({"type": "x" * 10_000}))
    assert error.code == "unknown_type"
    assert error.message == f"unknown message type {'x' * 64!r}"


# ---------------------------------------------------------------------- valid JSON orjson refuses
#
# RFC 8259 allows texts that orjson does not take (issue 16: each of these used to get
# bad_json). docs/protocol.md, "Valid JSON the server does not take", says what each gets.

SURROGATE = "\\ud800"  # the six characters of the escape, as a client writes them


def nested(depth: int) -> str:
    return '{"type": "sync", "x": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "sync", "x": "' + SURROGATE + '"}',
        '{"type": "sync", "x": "\\udc00 and \\ud800\\ud800"}',
        '{"type": "sync", "x": 1e400}',
        '{"type": "sync", "x": -1e400}',
        '{"type": "sync", "x": ' + "9" * 400 + "}",
        '{"type": "sync", "x": ' + "9" * 30 + "}",
        '{"type": "sync", "x": [[[[' + SURROGATE.join('""') + "]]]]}",
        nested(MAX_NESTING),
        '\ufeff{"type": "sync"}',
    ],
    ids=[
        "lone surrogate",
        "low and doubled high surrogates",
        "1e400",
        "-1e400",
        "400 digits",
        "30 digits",
        "surrogate deep inside",
        "nested to the limit",
        "byte-order mark",
    ],
)
def test_valid_json_orjson_refuses_is_read_when_the_protocol_ignores_that_field(
    frame: str,
) -> None:
    """Version 1 ignores every field it does not know, whatever it holds."""
    assert decode(frame) == SyncRequest()
    assert decode(frame.encode()) == SyncRequest()


def test_a_byte_order_mark_before_a_message_is_ignored() -> None:
    # RFC 8259 §8.1: a parser MAY ignore it; a client written in a hurry may send one.
    assert decode('\ufeff{"type": "answer", "q": 1, "option": 2}') == AnswerRequest(1, 2)


@pytest.mark.parametrize("field", ["q", "option"])
@pytest.mark.parametrize("number", ["1e400", "-1e400", "9" * 400, "-" + "9" * 30, "1" + "0" * 20])
def test_numbers_past_any_range_in_a_field_read_are_out_of_range(field: str, number: str) -> None:
    frame = json.dumps({**ANSWER, field: 0}).replace(f'"{field}": 0', f'"{field}": {number}')
    error = refused(frame)
    expected = "must be a whole number" if "e" in number else "is out of range"
    assert (error.code, error.message) == ("bad_message", f"field {field!r} {expected}")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "hello", "token": "v1." + SURROGATE}, "token"),
        ({"type": "join", "pin": SURROGATE, "nickname": "Anna"}, "pin"),
        ({"type": "join", "pin": "123456", "nickname": "An" + SURROGATE + "na"}, "nickname"),
        ({"type": "join", "pin": "123456", "nickname": "\\udfff"}, "nickname"),
        ({"type": "host", "action": "st" + SURROGATE}, "action"),
    ],
)
def test_a_lone_surrogate_in_a_text_field_is_bad_message(
    message: dict[str, str], field: str
) -> None:
    """A lone surrogate is no character: it can never be a nickname (nor be sent back to
    anyone in a frame), so the field is refused by name rather than the frame as not JSON."""
    frame = json.dumps(message).replace("\\\\u", "\\u")  # json.dumps doubled the backslash
    assert "\\ud8" in frame or "\\udf" in frame
    error = refused(frame)
    assert (error.code, error.message) == (
        "bad_message",
        f"field {field!r} holds a lone surrogate escape, which is no character",
    )


def test_a_paired_surrogate_escape_is_the_character_it_encodes() -> None:
    frame = '{"type": "join", "pin": "1", "nickname": "Anna \\ud83c\\udf89"}'
    assert decode(frame) == JoinRequest(pin="1", nickname="Anna 🎉")


def test_a_surrogate_type_is_an_unknown_type_named_safely() -> None:
    error = refused('{"type": "' + SURROGATE + '"}')
    assert error.code == "unknown_type"
    protocol.error(error.code, error.message)  # the error frame can be encoded


@pytest.mark.parametrize(
    "frame",
    [
        nested(MAX_NESTING + 1),
        "[" * (MAX_NESTING + 1),
        "[" * 2000,
        "{" * 2000,
        '{"type": "answer", "q": 0, "option": 0, "x": ' + "[" * 1000 + "]" * 1000 + "}",
    ],
    ids=["one level too deep", "unclosed", "2000 arrays", "2000 objects", "deep in a field"],
)
def test_nesting_past_the_limit_is_bad_message(frame: str) -> None:
    error = refused(frame)
    assert (error.code, error.message) == (
        "bad_message",
        f"the message is nested deeper than {MAX_NESTING} levels",
    )


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "[{" * 100 + '\\"' + "]}" * 100
    assert decode(json.dumps({"type": "hello", "token": text[:512]})) == Hello(
        json.loads(json.dumps(text[:512]))
    )
    deep_text = {"type": "sync", "x": "[" * 500, "y": ["{" * 500]}
    assert decode(json.dumps(deep_text)) == SyncRequest()


# ---------------------------------------------------------------------- fields


def field_error(message: dict[str, Any]) -> str:
    error = refused(encoded(message))
    assert error.code == "bad_message"
    return error.message


ANSWER = {"type": "answer", "q": 0, "option": 0}


@pytest.mark.parametrize("field", ["q", "option"])
@pytest.mark.parametrize(
    "value",
    [None, "1", "one", 1.0, 1.5, True, False, [1], {"i": 1}, 1e-300],
    ids=[
        "null",
        "digit-string",
        "word",
        "float-1.0",
        "float",
        "true",
        "false",
        "list",
        "object",
        "tiny-float",
    ],
)
def test_answer_ints_must_be_whole_numbers(field: str, value: Any) -> None:
    assert field_error({**ANSWER, field: value}) == f"field {field!r} must be a whole number"


@pytest.mark.parametrize("field", ["q", "option"])
def test_answer_ints_must_be_there(field: str) -> None:
    message = {k: v for k, v in ANSWER.items() if k != field}
    assert field_error(message) == f"field {field!r} must be a whole number"


@pytest.mark.parametrize("field", ["q", "option"])
@pytest.mark.parametrize(
    "value",
    [INT32_MAX + 1, INT32_MIN - 1, 2**63, -(2**63), 2**64 - 1, 2**64, -(2**80), 10**30, 10**400],
    ids=["2^31", "-2^31-1", "2^63", "-2^63", "2^64-1", "2^64", "-2^80", "10^30", "10^400"],
)
def test_answer_ints_out_of_range(field: str, value: int) -> None:
    assert field_error({**ANSWER, field: value}) == f"field {field!r} is out of range"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "hello"}, "token"),
        ({"type": "hello", "token": None}, "token"),
        ({"type": "hello", "token": 123}, "token"),
        ({"type": "hello", "token": ["v1.a.b"]}, "token"),
        ({"type": "join", "nickname": "Anna"}, "pin"),
        ({"type": "join", "pin": 482913, "nickname": "Anna"}, "pin"),
        ({"type": "join", "pin": "482913"}, "nickname"),
        ({"type": "join", "pin": "482913", "nickname": 5}, "nickname"),
        ({"type": "join", "pin": "482913", "nickname": True}, "nickname"),
        ({"type": "join", "pin": "482913", "nickname": {"first": "Anna"}}, "nickname"),
        ({"type": "host"}, "action"),
        ({"type": "host", "action": None}, "action"),
        ({"type": "host", "action": 1}, "action"),
        ({"type": "host", "action": ["start"]}, "action"),
    ],
)
def test_text_fields_must_be_strings(message: dict[str, Any], field: str) -> None:
    assert field_error(message) == f"field {field!r} must be a string"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "hello", "token": "t" * 513}, "token"),
        ({"type": "join", "pin": "1" * 65, "nickname": "Anna"}, "pin"),
        ({"type": "join", "pin": "482913", "nickname": "n" * 65}, "nickname"),
        ({"type": "join", "pin": "482913", "nickname": "n" * 1_000_000}, "nickname"),
        ({"type": "host", "action": "s" * 65}, "action"),
    ],
)
def test_overlong_text_fields_are_refused(message: dict[str, Any], field: str) -> None:
    assert field_error(message) == f"field {field!r} is too long"


@pytest.mark.parametrize("action", ["begin", "START", "kick ", "", "stop", "delete"])
def test_an_unknown_host_action_is_bad_message(action: str) -> None:
    message = field_error({"type": "host", "action": action})
    assert message.startswith(f"unknown host action {action!r}; one of [")
    assert all(repr(known) in message for known in HOST_ACTIONS)


@pytest.mark.parametrize("player_id", [None, "7", 7.0, True, False, [7], INT32_MAX + 1], ids=repr)
def test_kick_needs_a_whole_number_player_id(player_id: Any) -> None:
    message: dict[str, Any] = {"type": "host", "action": "kick"}
    if player_id is not None:
        message["player_id"] = player_id
    assert field_error(message).startswith("field 'player_id' ")


# ---------------------------------------------------------------------- server frames


def test_encode_is_compact_utf8_json() -> None:
    data = protocol.encode({"type": "board", "top": [{"nickname": "Zoë"}]})
    assert data == '{"type":"board","top":[{"nickname":"Zoë"}]}'.encode()


def test_error_frames_carry_code_message_and_extras() -> None:
    frame = orjson.loads(protocol.error("too_late", "time is up", q=3))
    assert frame == {"type": "error", "code": "too_late", "message": "time is up", "q": 3}


# ---------------------------------------------------------------------- anything at all

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
typed_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["answer", "hello", "join", "host", "sync", "ping"])},
    optional={
        "q": json_values,
        "option": json_values,
        "token": json_values,
        "pin": json_values,
        "nickname": json_values,
        "action": st.sampled_from(sorted(HOST_ACTIONS)) | json_values,
        "player_id": json_values,
    },
)


def decodes_or_refuses(frame: str | bytes) -> None:
    code: str | None = None
    try:
        message = decode(frame)
    except ProtocolError as error:
        code = error.code
    if code is not None:
        assert code in CODES
    else:
        assert isinstance(message, AnswerRequest | Hello | JoinRequest | HostRequest | SyncRequest)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_refused(frame: bytes) -> None:
    decodes_or_refuses(frame)


@given(json_values)
def test_any_json_value_decodes_or_is_refused(value: Any) -> None:
    decodes_or_refuses(encoded(value))


@given(typed_messages)
def test_any_message_with_a_known_type_decodes_or_is_refused(message: dict[str, Any]) -> None:
    decodes_or_refuses(encoded(message))
    try:
        decoded = decode(encoded(message))
    except ProtocolError:
        return
    if isinstance(decoded, AnswerRequest):  # what got through is exactly what was sent
        assert (decoded.index, decoded.option) == (message["q"], message["option"])
        assert type(decoded.index) is int
        assert type(decoded.option) is int
    elif isinstance(decoded, HostRequest):
        assert decoded.action in HOST_ACTIONS
        assert (decoded.player_id is None) == (decoded.action != "kick")


def test_extra_time_names_a_player_and_a_percentage() -> None:
    frame = encoded({"type": "host", "action": "extra_time", "player_id": 4, "percent": 50})
    assert decode(frame) == HostRequest("extra_time", 4, percent=50)
    for wrong in (-1, 301, "50", 50.0, None):
        message = {"type": "host", "action": "extra_time", "player_id": 4, "percent": wrong}
        with pytest.raises(ProtocolError) as caught:
            decode(encoded(message))
        assert caught.value.code == "bad_message"
        assert "'percent'" in caught.value.message
    with pytest.raises(ProtocolError):
        decode(encoded({"type": "host", "action": "extra_time", "percent": 50}))
    for missing in ({"type": "host", "action": "extra_time", "player_id": 4},
                    {"type": "host", "action": "team", "player_id": 4}):  # fmt: skip
        with pytest.raises(ProtocolError) as caught:
            decode(encoded(missing))
        assert caught.value.code == "bad_message"
    # on another action they are unknown fields, ignored
    kick = {"type": "host", "action": "kick", "player_id": 4, "percent": "x", "team": -1}
    assert decode(encoded(kick)) == HostRequest("kick", 4)


def test_team_names_a_player_and_a_team() -> None:
    frame = encoded({"type": "host", "action": "team", "player_id": 4, "team": 1})
    assert decode(frame) == HostRequest("team", 4, team=1)
    for wrong in (-1, 6, "1", None):
        message = {"type": "host", "action": "team", "player_id": 4, "team": wrong}
        with pytest.raises(ProtocolError) as caught:
            decode(encoded(message))
        assert caught.value.code == "bad_message"
        assert "'team'" in caught.value.message


def test_the_gateway_has_a_command_for_every_action_that_names_its_question() -> None:
    from livequiz.gateway import QUESTION_COMMANDS

    assert set(QUESTION_COMMANDS) == QUESTION_ACTIONS
