"""The codec on its own: signatures checked before decoding, key rotation, key
configuration, and serializer refusals (no Redis needed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from docket import Docket, StrikeList
from docket._codec import (
    JSON,
    PICKLE,
    RESULT,
    TASK,
    Codec,
    Sealed,
    UnverifiedPayload,
    V1Signature,
)
from docket._codec.message import (
    DEFAULT_PRIORITY,
    HIGHEST_PRIORITY,
    LOWEST_PRIORITY,
    MalformedMessage,
    UnverifiedMessage,
    _decode_carefully,  # pyright: ignore[reportPrivateUsage]
    decode_message,
    encode_message,
    open_arguments,
)
from docket._codec.signing import Signer, canonical, environment_keys, read_keys_file
from docket._strikes import Strike, StrikeInstruction
from tests._support.hostile import (
    NEW_KEY,
    OLD_KEY,
    OTHER_KEY,
    hostile_message,
    marker_pickle,
    proves_marker_works,
)

FIELDS = [b"greet", b"key-1"]


def test_canonical_form_is_unambiguous():
    """Netstrings keep field boundaries: moving bytes between fields changes it."""
    assert canonical([b"ab", b"c"]) == b"2:ab,1:c,"
    assert canonical([b"a", b"bc"]) != canonical([b"ab", b"c"])
    assert canonical([None, b""]) == b"-,0:,"
    assert canonical([None]) != canonical([b""])


def test_a_signature_is_hmac_sha256_of_the_canonical_form():
    """What docs/security.md promises other languages: hex HMAC-SHA256."""
    parts = [TASK.tag, b"pickle", b"x"]
    expected = hmac.new(OLD_KEY.encode(), canonical(parts), hashlib.sha256)
    assert Signer([OLD_KEY]).sign(parts) == expected.hexdigest().encode()


def test_rotation_first_key_signs_every_key_verifies():
    """[new, old] signs with new and still verifies what [old] signed; [new]
    alone no longer accepts old signatures."""
    old = Codec(PICKLE, [OLD_KEY])
    rotating = Codec(PICKLE, [NEW_KEY, OLD_KEY])
    new = Codec(PICKLE, [NEW_KEY])
    by_old = old.dumps(RESULT, FIELDS, {"v": 1})
    by_rotating = rotating.dumps(RESULT, FIELDS, {"v": 2})
    assert rotating.loads(RESULT, FIELDS, by_old) == [{"v": 1}]
    assert new.loads(RESULT, FIELDS, by_rotating) == [{"v": 2}]
    assert by_rotating.signature == new.dumps(RESULT, FIELDS, {"v": 2}).signature
    with pytest.raises(UnverifiedPayload, match="matches none"):
        new.loads(RESULT, FIELDS, by_old)


def test_signature_covers_the_fields_the_purpose_and_the_bytes():
    """Changing the key, the purpose, the serializer or one byte breaks it."""
    codec = Codec(PICKLE, [OLD_KEY])
    sealed = codec.dumps(RESULT, FIELDS, 42)
    assert codec.loads(RESULT, FIELDS, sealed) == [42]
    tampered = [
        (RESULT, [b"greet", b"key-2"], sealed),
        (TASK, FIELDS, sealed),
        (RESULT, FIELDS, Sealed(JSON, sealed.blobs, sealed.signature)),
        (RESULT, FIELDS, Sealed(PICKLE, (sealed.blobs[0] + b".",), sealed.signature)),
    ]
    for purpose, fields, bad in tampered:
        with pytest.raises(UnverifiedPayload):
            codec.loads(purpose, fields, bad)


def test_unverified_pickles_are_never_loaded(tmp_path: Path):
    """No signature, a wrong one, or a pickle on a JSON docket: refused before
    unpickling, so the marker is never created."""
    proves_marker_works(tmp_path)
    marker = tmp_path / "marker"
    blob = marker_pickle(marker)
    forged = Signer([OTHER_KEY]).sign([RESULT.tag, b"pickle", b"", *FIELDS, blob])
    cases = [
        (Codec(PICKLE, [OLD_KEY]), Sealed(PICKLE, (blob,)), "not signed"),
        (Codec(PICKLE, [OLD_KEY]), Sealed(PICKLE, (blob,), forged), "matches none"),
        (Codec(PICKLE, [OLD_KEY]), Sealed(PICKLE, (blob,), b"zz"), "matches none"),
        (Codec(JSON), Sealed(PICKLE, (blob,)), "serializer is 'json'"),
        (Codec(PICKLE, [OLD_KEY]), Sealed("yaml", (blob,)), "unknown serializer"),
    ]
    for codec, sealed, reason in cases:
        with pytest.raises(UnverifiedPayload, match=reason):
            codec.loads(RESULT, FIELDS, sealed)
    assert not marker.exists()


def test_without_keys_pickles_load_as_before():
    """Drop-in: a docket without keys reads unsigned pickles (and JSON)."""
    codec = Codec()
    assert codec.loads(RESULT, FIELDS, codec.dumps(RESULT, FIELDS, [1])) == [[1]]
    assert codec.loads(RESULT, FIELDS, Codec(JSON).dumps(RESULT, FIELDS, [1])) == [[1]]


def test_a_hostile_task_message_raises_unverified_message(tmp_path: Path):
    """decode_message reads the envelope; open_arguments refuses the payload
    with UnverifiedMessage (a MalformedMessage) naming the reason."""
    marker = tmp_path / "marker"
    message = decode_message(hostile_message(marker, "k"))
    with pytest.raises(UnverifiedMessage, match="not signed"):
        open_arguments(Codec(PICKLE, [OLD_KEY]), message)
    signed = decode_message(hostile_message(marker, "k", signature=b"0" * 64))
    with pytest.raises(UnverifiedMessage, match="matches none"):
        open_arguments(Codec(PICKLE, [OLD_KEY]), signed)
    assert not marker.exists()


def test_result_documents_keep_the_old_shape_and_verify():
    """Unsigned pickle results stay ``{"data": base64}``; signed ones add a
    signature bound to the task key and its run; JSON ones say so."""
    assert set(Codec().result_document("k", 1, 3)) == {"data"}
    signed = Codec(PICKLE, [OLD_KEY]).result_document("k", 1, 3)
    assert set(signed) == {"data", "generation", "signature"}
    assert Codec(PICKLE, [OLD_KEY]).read_document("k", signed, 3) == 1
    with pytest.raises(UnverifiedPayload, match="stored result of task 'other'"):
        Codec(PICKLE, [OLD_KEY]).read_document("other", signed, 3)
    as_json = Codec(JSON).result_document("k", {"a": 1}, 3)
    assert as_json == {"serializer": "json", "data": '{"a":1}'}
    with pytest.raises(UnverifiedPayload, match="not a result document"):
        Codec().read_document("k", {"nothing": "here"}, 3)


def test_strike_entries_are_signed_and_verified(tmp_path: Path):
    """A strike signed with the keys round-trips; the same entry with its value
    swapped for a marker pickle is refused before unpickling."""
    codec = Codec(PICKLE, [OLD_KEY])
    message = Strike("f", "p", "==", 7).as_message(codec)
    back = StrikeInstruction.from_message(message, codec)
    assert (back.function, back.parameter, back.value) == ("f", "p", 7)
    marker = tmp_path / "marker"
    message[b"value"] = marker_pickle(marker)
    with pytest.raises(UnverifiedPayload):
        StrikeInstruction.from_message(message, codec)
    del message[b"signature"]
    with pytest.raises(UnverifiedPayload, match="not signed"):
        StrikeInstruction.from_message(message, codec)
    assert not marker.exists()


def test_keys_come_from_the_environment_or_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """DOCKET_SIGNING_KEYS is comma-separated; DOCKET_SIGNING_KEYS_FILE names a
    file of one key a line; setting both is an error; Docket reads them."""
    monkeypatch.setenv("DOCKET_SIGNING_KEYS", f" {NEW_KEY} , {OLD_KEY} ,")
    assert environment_keys() == [NEW_KEY, OLD_KEY]
    assert Docket(name="d", url="memory://k").codec.signing
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"# current first\n{NEW_KEY}\n\n{OLD_KEY}\n")
    assert read_keys_file(keys_file) == [NEW_KEY, OLD_KEY]
    monkeypatch.setenv("DOCKET_SIGNING_KEYS_FILE", str(keys_file))
    with pytest.raises(ValueError, match="not both"):
        environment_keys()
    monkeypatch.delenv("DOCKET_SIGNING_KEYS")
    assert environment_keys() == [NEW_KEY, OLD_KEY]
    monkeypatch.delenv("DOCKET_SIGNING_KEYS_FILE")
    assert not Docket(name="d", url="memory://k").codec.signing
    assert Docket(name="d", url="memory://k", signing_keys=[OLD_KEY]).codec.signing


def test_bad_key_configuration_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Short keys, a single string instead of a list, unreadable or empty key
    files and unknown serializers are refused at construction."""
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Docket(name="d", url="memory://k", signing_keys=["short"])
    with pytest.raises(TypeError, match="list of keys"):
        Docket(name="d", url="memory://k", signing_keys=OLD_KEY)
    with pytest.raises(ValueError, match="Cannot read the signing keys file"):
        read_keys_file(tmp_path / "missing")
    (tmp_path / "empty").write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no key"):
        read_keys_file(tmp_path / "empty")
    with pytest.raises(ValueError, match="Unknown serializer 'yaml'"):
        Docket(name="d", url="memory://k", serializer="yaml")
    monkeypatch.setenv("DOCKET_SERIALIZER", "JSON")
    assert Docket(name="d", url="memory://k").codec.serializer == "json"
    assert StrikeList(name="s").codec.serializer == "json"


def test_reprs_never_show_keys():
    """Neither the codec nor the signer nor the docket shows a key."""
    docket = Docket(name="d", url="memory://k", signing_keys=[OLD_KEY])
    for text in (repr(docket.codec), repr(docket.codec.signer), repr(docket)):
        assert OLD_KEY not in text


def test_both_decoding_paths_keep_what_the_signature_covers():
    """The quick path for well-formed messages and the field-by-field one give the
    same message, serializer, signature and signed envelope included, so both
    verify and load alike; changing a signed field's bytes breaks verification
    even where the value reads the same."""
    codec = Codec(JSON, [OLD_KEY])
    fields = encode_message(
        codec, "k", "greet", "2026-01-01T00:00:00+00:00", 2, 3, (1,), {"a": 2}
    )
    quick = decode_message(fields)
    assert quick == _decode_carefully(fields)
    assert (quick.serializer, quick.signature) == (JSON, fields[b"signature"])
    assert open_arguments(codec, quick) == ((1,), {"a": 2})
    padded = decode_message({**fields, b"attempt": b" 2"})  # int() reads it as 2
    assert padded.attempt == 2 and padded.envelope != quick.envelope
    with pytest.raises(UnverifiedMessage, match="matches none"):
        open_arguments(codec, padded)


def test_v1_signatures_are_recognised_refused_and_accepted_only_on_request():
    """A strike entry and a result signed in the v1 format (no docket name, no
    run) are refused with V1Signature naming DOCKET_SIGNING_ACCEPT_V1; a codec
    that accepts v1 loads them; a v2 signature made for another docket is
    refused as a wrong signature, not as v1."""
    strict = Codec(PICKLE, [OLD_KEY], docket="orders")
    upgrading = Codec(PICKLE, [OLD_KEY], docket="orders", accept_v1=True)
    message = Strike("f", "p", "==", 7).as_message(strict)
    parts = [b"docket.strike.v1", b"pickle", b"strike", b"f", b"p", b"=="]
    message[b"signature"] = Signer([OLD_KEY]).sign([*parts, message[b"value"]])
    with pytest.raises(V1Signature, match="DOCKET_SIGNING_ACCEPT_V1=1"):
        StrikeInstruction.from_message(message, strict)
    assert StrikeInstruction.from_message(message, upgrading).value == 7
    elsewhere = Codec(PICKLE, [OLD_KEY], docket="billing")
    moved = Strike("f", "p", "==", 7).as_message(elsewhere)
    with pytest.raises(UnverifiedPayload, match="matches none") as raised:
        StrikeInstruction.from_message(moved, strict)
    assert not isinstance(raised.value, V1Signature)
    document = strict.result_document("k", 5, 2)
    blob = base64.b64decode(document["data"])
    v1 = Signer([OLD_KEY]).sign([b"docket.result.v1", b"pickle", b"k", blob])
    old = {"data": document["data"], "signature": v1.decode()}
    with pytest.raises(V1Signature):
        strict.read_document("k", old, 2)
    assert upgrading.read_document("k", old, 2) == 5
    assert strict.read_document("k", document, 2) == 5
    with pytest.raises(UnverifiedPayload, match="run 2 of the task, which is at run 3"):
        strict.read_document("k", document, 3)


def test_the_priority_field_is_bounded_by_the_named_priorities():
    """A message's priority round-trips at the bounds (LOWEST_PRIORITY and
    HIGHEST_PRIORITY), is left out at DEFAULT_PRIORITY, and a field outside the
    bounds or not a number is a MalformedMessage naming the field, in the quick
    decode as in the careful one."""
    codec = Codec(PICKLE, [])
    when = "2026-01-01T00:00:00+00:00"
    for priority in (LOWEST_PRIORITY, HIGHEST_PRIORITY):
        fields = encode_message(codec, "k", "f", when, 1, 0, (), {}, priority)
        assert decode_message(fields).priority == priority
    plain = encode_message(codec, "k", "f", when, 1, 0, (), {}, DEFAULT_PRIORITY)
    assert b"priority" not in plain
    assert decode_message(plain).priority == DEFAULT_PRIORITY
    below, above = str(LOWEST_PRIORITY - 1), str(HIGHEST_PRIORITY + 1)
    for raw, reason in ((below, "below"), (above, "above"), ("x", "not an integer")):
        bad = {**plain, b"priority": raw.encode()}
        with pytest.raises(MalformedMessage, match=f"'priority' field is {reason}"):
            decode_message(bad)
