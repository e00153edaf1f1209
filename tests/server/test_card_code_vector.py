"""docs/card-codes.md cannot drift from the code: its test vector is regenerated with the real signer,
its verification examples run, and a live code is checked with nothing but the published JWK Set."""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from handlers.cards import PublicKeysHandler
from models.cards import codes as card_codes
from models.core.errors import AppError
from server import qr_tokens
from server.qr_tokens import QrSigner
from tests.factories import counter

DOC = Path(__file__).resolve().parents[2] / "docs" / "card-codes.md"
_BLOCK = re.compile(r"<!-- card-code-(vector|example): (\w+) -->\s*```[\w-]*\n(.*?)\n```", re.DOTALL)


def blocks() -> dict[str, str]:
    """The marked code blocks of the page, by name ("input", "token", "python", ...)."""
    found = _BLOCK.findall(DOC.read_text("utf-8"))
    names = [name for _kind, name, _text in found]
    assert len(names) == len(set(names)), f"a block is marked twice: {names}"
    return {name: text for _kind, name, text in found}


def vector_signer(spec: dict[str, Any]) -> QrSigner:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(spec["seed_hex"]))
    return QrSigner({spec["key_id"]: key}, spec["key_id"])


def sign_vector(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    """The vector's token from the service's own signer; only its nonce source is fixed."""
    signer = vector_signer(spec)
    nonce = bytes.fromhex(spec["nonce_hex"])
    if spec["format"] == qr_tokens.PRINTED:
        return signer.sign(spec["card_id"], spec["card_version"], spec["issued_at"], printed_nonce=nonce)
    assert spec["format"] == qr_tokens.SCREEN
    monkeypatch.setattr(qr_tokens, "secrets", SimpleNamespace(token_bytes=lambda n: nonce[:n]))
    return signer.sign(spec["card_id"], spec["card_version"], spec["issued_at"])


def python_example() -> dict[str, Any]:
    """The page's Python example, loaded as a module would be (its vector check does not run)."""
    namespace: dict[str, Any] = {"__name__": "card_code_example"}
    exec(compile(blocks()["python"], f"{DOC}#python", "exec"), namespace)  # noqa: S102 - our own page
    return namespace


def test_the_vector_on_the_page_is_what_the_signer_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    page = blocks()
    spec = json.loads(page["input"])
    token = sign_vector(spec, monkeypatch)
    assert page["token"].strip() == token
    assert len(token) == qr_tokens.TEXT_LEN == 135
    raw = base64.b32decode(token + "=")
    listed = dict(line.split(":", 1) for line in page["bytes"].splitlines())
    assert bytes.fromhex(listed["body"].replace(" ", "")) == raw[:20]
    assert bytes.fromhex(listed["signature"].replace(" ", "")) == raw[20:]
    signer = vector_signer(spec)
    assert json.loads(page["jwk"]) == signer.jwks()[0]
    fields = signer.verify(token)
    assert (fields.key_id, fields.card_id, fields.card_version, fields.issued_at, fields.nonce.hex(), fields.printed) \
        == (spec["key_id"], spec["card_id"], spec["card_version"], spec["issued_at"], spec["nonce_hex"],
            spec["format"] == qr_tokens.PRINTED)


def test_the_page_states_what_the_code_does() -> None:
    text = DOC.read_text("utf-8")
    assert f"`{qr_tokens._BODY.format}`" in text  # the struct layout, as the code packs it
    assert qr_tokens.TOKEN_LEN == 84 and "exactly 135 characters" in text
    # The last character carries 2 bits of the token and 3 zero bits.
    last = sorted({base64.b32encode(bytes(83) + bytes([b])).decode()[134] for b in range(256)})
    assert "of " + ", ".join(f"`{c}`" for c in last) + ")." in text
    assert f'"{PublicKeysHandler.TOKEN_LAYOUT}"' in text


def test_the_python_example_runs_and_checks_the_vector(tmp_path: Path) -> None:
    script = tmp_path / "card_code.py"
    script.write_text(blocks()["python"], "utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "the test vector checks out" in done.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_node_example_runs_and_checks_the_vector(tmp_path: Path) -> None:
    script = tmp_path / "card-code.js"
    script.write_text(blocks()["node"], "utf-8")
    done = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "the test vector checks out" in done.stdout


def test_the_documented_window_is_the_one_the_service_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    """At each edge of the window, the page's verifier and the service's check agree (skew both ways)."""
    spec = json.loads(blocks()["input"])
    token = sign_vector(spec, monkeypatch)
    signer = vector_signer(spec)
    example = python_example()
    verify, not_valid = example["verify_card_code"], example["NotValid"]
    issued = spec["issued_at"]
    for ttl, skew in ((60, 15), (10, 0), (600, 120)):
        jwks = {"keys": signer.jwks(), "qr_ttl": ttl, "clock_skew": skew}
        for now in (issued - skew - 1, issued - skew - 0.5, issued - skew, issued, issued + ttl,
                    issued + ttl + skew, issued + ttl + skew + 0.5, issued + ttl + skew + 1):
            try:
                card_codes.check_code(signer, token, ttl=ttl, skew=skew, now=now)
                service = True
            except AppError:
                service = False
            try:
                verify(token, jwks, now=now)
                offline = True
            except not_valid:
                offline = False
            assert offline == service == (issued - skew <= now <= issued + ttl + skew), (ttl, skew, now - issued)
    # A printed code has no time limit, offline as at the counter.
    printed = signer.sign(spec["card_id"], spec["card_version"], issued, printed_nonce=bytes(8))
    assert verify(printed, {"keys": signer.jwks(), "qr_ttl": 60, "clock_skew": 15}, now=issued + 10**8)["printed"]


async def test_a_live_code_checks_out_with_only_the_published_jwk_set(api, engine, running) -> None:
    scene = await counter(api, engine, running)
    resp = await api.get("/api/v1/cards/keys")  # no login; the answer is checked against its schema
    assert resp.status == 200
    jwks = json.loads(resp.body)
    assert all(set(k) >= {"kty", "crv", "kid", "x", "alg", "use"} for k in jwks["keys"])
    qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
    assert qr.status == 200, qr.data
    code = qr.data["token"]
    example = python_example()
    verify, not_valid = example["verify_card_code"], example["NotValid"]
    fields = verify(code, jwks)
    assert (fields["card_id"], fields["printed"]) == (scene.card_id, False)
    assert abs(fields["issued_at"] - time.time()) < 60
    assert fields["key_id"] == running.settings["signer"].current
    issued, ttl, skew = fields["issued_at"], jwks["qr_ttl"], jwks["clock_skew"]
    for now, fresh in ((issued - skew, True), (issued + ttl + skew, True),
                       (issued - skew - 1, False), (issued + ttl + skew + 1, False)):
        try:
            verify(code, jwks, now=now)
            assert fresh, now - issued
        except not_valid:
            assert not fresh, now - issued
    with pytest.raises(not_valid):
        verify(code, {**jwks, "keys": []})  # only the published keys verify
