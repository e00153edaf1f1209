"""The attachment store: hostile uploads refused or made clean, files encrypted at rest and read back."""
from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from models.core import ports
from models.core.errors import AppError
from server import upload_check
from server.attachments import AttachmentStore, inline_headers
from server.config import ConfigError, load_config
from server.crypto import Keyring, load_keyring
from tests import hostile_files as hf

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10 * 1024 * 1024


def _keyring(keys: dict[str, bytes], current: str) -> Keyring:
    return Keyring(pii_current=current, pii_keys=keys, blind_index_key=b"b" * 32, cookie_secret=b"c" * 32)


@pytest.fixture
def store(tmp_path: Path) -> AttachmentStore:
    return AttachmentStore(tmp_path / "attachments", _keyring({"k1": b"1" * 32}, "k1"), max_bytes=LIMIT)


def _spooled(data: bytes) -> io.BufferedRandom:
    """An anonymous temporary file holding ``data``, as handlers/uploads.py spools an upload."""
    import tempfile

    file = tempfile.TemporaryFile()
    file.write(data)
    file.seek(0)
    return file  # type: ignore[return-value]


def _refused(data: bytes, max_bytes: int = LIMIT) -> AppError:
    with pytest.raises(AppError) as caught:
        upload_check.sanitise(io.BytesIO(data), max_bytes=max_bytes)
    return caught.value


# ------------------------------------------------------------------ real files accepted and stored


@pytest.mark.parametrize("data, mime", [(hf.jpeg(), "image/jpeg"), (hf.png(), "image/jpeg"),
                                        (hf.png(mode="RGBA"), "image/png"), (hf.pdf_plain(), "application/pdf")])
def test_a_real_file_is_stored_encrypted_and_reads_back_sanitised(store: AttachmentStore, tmp_path: Path,
                                                                   data: bytes, mime: str) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    stored = store.put(path, purpose="relief_proof")
    assert isinstance(stored, ports.StoredFile)
    assert (stored.mime, stored.key_id, len(stored.key)) == (mime, "k1", 32)
    plain = store.get(stored.key, purpose="relief_proof")
    assert (len(plain), hashlib.sha256(plain).hexdigest()) == (stored.size, stored.sha256)
    assert upload_check.sniff(plain) == mime
    blob = store.path(stored.key).read_bytes()
    assert blob.startswith(b"UAF1\x02k1") and plain not in blob and plain[:64] not in blob
    if mime == "application/pdf":
        assert plain == data  # kept as uploaded
        assert len(PdfReader(io.BytesIO(plain)).pages) == 1
    else:
        with Image.open(io.BytesIO(plain)) as im:
            assert im.size == (320, 240) and im.getexif() == {}


def test_an_anonymous_spooled_file_is_accepted_as_the_upload_handler_gives_it(store: AttachmentStore) -> None:
    with _spooled(hf.jpeg()) as file:
        stored = store.put(file, purpose="home_visit_photo")
    assert store.get(stored.key, purpose="home_visit_photo")[:3] == b"\xff\xd8\xff"


def test_blobs_and_their_directories_are_private(store: AttachmentStore) -> None:
    stored = store.put(io.BytesIO(hf.jpeg()), purpose="relief_proof")  # type: ignore[arg-type]
    path = store.path(stored.key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [stored.key]  # no temporary file left


def test_the_same_file_twice_makes_two_blobs_and_deleting_one_keeps_the_other(store: AttachmentStore) -> None:
    first = store.put(io.BytesIO(hf.pdf_plain()), purpose="relief_proof")  # type: ignore[arg-type]
    second = store.put(io.BytesIO(hf.pdf_plain()), purpose="relief_proof")  # type: ignore[arg-type]
    assert first.key != second.key and first.sha256 == second.sha256
    store.delete(first.key)
    store.delete(first.key)  # already gone: nothing happens
    with pytest.raises(AppError) as caught:
        store.get(first.key, purpose="relief_proof")
    assert (caught.value.status, caught.value.code) == (404, "attachment_not_found")
    assert store.get(second.key, purpose="relief_proof") == hf.pdf_plain()


@pytest.mark.parametrize("key", ["../../keys.json", "", "A" * 32, "0" * 31, "0" * 33])
def test_anything_but_a_key_is_not_found(store: AttachmentStore, key: str) -> None:
    with pytest.raises(AppError) as caught:
        store.get(key, purpose="relief_proof")
    assert caught.value.status == 404


def test_a_large_photo_is_decoded_at_a_reduced_scale_and_bounded(store: AttachmentStore) -> None:
    stored = store.put(io.BytesIO(hf.jpeg(6000, 4500)), purpose="relief_proof")  # type: ignore[arg-type]
    with Image.open(io.BytesIO(store.get(stored.key, purpose="relief_proof"))) as im:
        assert im.size == (3000, 2250)  # 27 MP decoded at 1/2 scale, under 12 MP


def test_inline_headers_name_the_type() -> None:
    assert inline_headers("application/pdf", name="proof-7") == {
        "Content-Type": "application/pdf", "Content-Disposition": 'inline; filename="proof-7.pdf"'}


# ------------------------------------------------------------------ hostile uploads


@pytest.mark.parametrize("name", sorted(hf.ATTACHMENT_CATALOGUE))
def test_every_hostile_upload_is_refused_with_its_code_or_comes_out_clean(name: str) -> None:
    make, code = hf.ATTACHMENT_CATALOGUE[name]
    data = make()
    if code is None:
        clean = upload_check.sanitise(io.BytesIO(data), max_bytes=LIMIT)
        assert upload_check.sniff(clean.data) == clean.mime
        return
    error = _refused(data)
    assert error.code == code
    assert 400 <= error.status < 500
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error.message)


def test_html_named_png_is_refused_by_its_content(store: AttachmentStore, tmp_path: Path) -> None:
    path = tmp_path / "proof.png"
    path.write_bytes(hf.html_named_png())
    with pytest.raises(AppError) as caught:
        store.put(path, purpose="relief_proof")
    assert (caught.value.status, caught.value.code) == (415, "upload_type")
    assert not store.root.exists() or not any(store.root.rglob("*"))


@pytest.mark.parametrize("make", [hf.polyglot_jpeg_html, hf.polyglot_jpeg_zip])
def test_a_polyglot_comes_out_as_a_clean_picture_without_its_payload(make) -> None:
    data = make()
    assert b"<script>" in data or b"PK\x03\x04" in data
    clean = upload_check.sanitise(io.BytesIO(data), max_bytes=LIMIT)
    assert clean.mime == "image/jpeg"
    assert b"<script" not in clean.data and b"PK\x03\x04" not in clean.data and b"payload" not in clean.data
    assert clean.data.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(clean.data)) as im:
        assert im.size == (320, 240)


def test_exif_gps_and_comments_are_gone_after_re_encoding_and_the_picture_is_upright() -> None:
    data = hf.jpeg_with_gps()
    with Image.open(io.BytesIO(data)) as before:
        assert before.getexif().get_ifd(0x8825)[2] == hf.GPS_LATITUDE
    clean = upload_check.sanitise(io.BytesIO(data), max_bytes=LIMIT)
    with Image.open(io.BytesIO(clean.data)) as im:
        assert im.getexif() == {} and im.getexif().get_ifd(0x8825) == {}
        assert set(im.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi"}
        assert im.size == (240, 320)  # orientation 6 applied, then dropped
    assert b"Exif" not in clean.data and b"PhoneMaker" not in clean.data and b"<script" not in clean.data


def test_png_metadata_chunks_are_dropped_unread() -> None:
    clean = upload_check.sanitise(io.BytesIO(hf.png_with_metadata()), max_bytes=LIMIT)
    with Image.open(io.BytesIO(clean.data)) as im:
        assert im.getexif() == {} and "Comment" not in im.info
    assert b"<script" not in clean.data


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    data = hf.png_bomb()
    assert len(data) < 300_000
    assert _refused(data).code == "upload_image_too_big"


def test_a_png_with_a_broken_chunk_is_corrupt() -> None:
    data = bytearray(hf.png())
    data[40] ^= 0xFF  # inside IDAT: the chunk's CRC no longer matches
    assert _refused(bytes(data)).code == "upload_corrupt"
    assert _refused(hf.png()[:-12]).code == "upload_corrupt"  # no IEND


def test_a_file_over_the_limit_is_refused_from_its_size_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as fh:
        fh.write(hf.jpeg())
        fh.truncate(64 * 1024**3)  # sparse: 64 GB that were never written, unreadable in a test's time
    with pytest.raises(AppError) as caught:
        upload_check.sanitise(path, max_bytes=LIMIT)
    assert (caught.value.status, caught.value.code) == (413, "upload_too_large")
    assert _refused(b"\xff\xd8\xff" + b"\0" * 100, max_bytes=50).code == "upload_too_large"


def test_the_object_stream_bomb_is_refused_for_its_size_not_its_shape() -> None:
    small = hf.pdf_object_stream_bomb(hf.MB)  # the same file inflating to 1 MB is a fine PDF
    assert upload_check.sanitise(io.BytesIO(small), max_bytes=LIMIT).mime == "application/pdf"
    assert _refused(hf.pdf_object_stream_bomb()).code == "upload_corrupt"


def test_a_pdf_is_cut_after_its_last_eof_marker() -> None:
    data = hf.pdf_plain() + b"<html><script>alert(1)</script></html>"
    clean = upload_check.sanitise(io.BytesIO(data), max_bytes=LIMIT)
    assert clean.data == hf.pdf_plain() and b"<script" not in clean.data


def test_a_pdf_with_fifty_pages_is_accepted() -> None:
    assert upload_check.sanitise(io.BytesIO(hf.pdf_many_pages(50)), max_bytes=LIMIT).mime == "application/pdf"


def test_a_reportlab_pdf_is_accepted() -> None:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, "diagnosis 2026")
    pdf.showPage()
    pdf.save()
    assert upload_check.sanitise(io.BytesIO(buf.getvalue()), max_bytes=LIMIT).data.startswith(b"%PDF-")


_MEMORY_PROBE = r"""
import io, json, sys
from pathlib import Path
from models.core.errors import AppError
from server import upload_check
from tests import hostile_files as hf

def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

files = {name: make() for name, (make, _) in hf.ATTACHMENT_CATALOGUE.items()}
upload_check.sanitise(io.BytesIO(hf.jpeg()), max_bytes=10 << 20)  # warm up: the codecs are loaded
upload_check.sanitise(io.BytesIO(hf.pdf_plain()), max_bytes=10 << 20)
before = hwm()
codes = {}
for name, data in files.items():
    try:
        codes[name] = upload_check.sanitise(io.BytesIO(data), max_bytes=10 << 20).mime
    except AppError as exc:
        codes[name] = exc.code
print(json.dumps({"growth": hwm() - before, "codes": codes}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_the_hostile_uploads_grow_a_fresh_process_by_less_than_50_mb() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["growth"] < 50 * 1024 * 1024, result
    for name, (_, code) in hf.ATTACHMENT_CATALOGUE.items():
        assert result["codes"][name] == (code or result["codes"][name]), name


# ------------------------------------------------------------------ encryption at rest


def test_a_blob_altered_on_disk_does_not_decrypt(store: AttachmentStore) -> None:
    stored = store.put(io.BytesIO(hf.jpeg()), purpose="relief_proof")  # type: ignore[arg-type]
    path = store.path(stored.key)
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(AppError) as caught:
        store.get(stored.key, purpose="relief_proof")
    assert (caught.value.status, caught.value.code) == (422, "attachment_unreadable")
    path.write_bytes(b"UAF1")  # cut short
    with pytest.raises(AppError) as caught:
        store.get(stored.key, purpose="relief_proof")
    assert caught.value.code == "attachment_unreadable"


def test_a_blob_moved_to_another_key_or_read_for_another_purpose_does_not_decrypt(store: AttachmentStore) -> None:
    mine = store.put(io.BytesIO(hf.jpeg()), purpose="relief_proof")  # type: ignore[arg-type]
    theirs = store.put(io.BytesIO(hf.pdf_plain()), purpose="relief_proof")  # type: ignore[arg-type]
    store.path(theirs.key).write_bytes(store.path(mine.key).read_bytes())
    for key, purpose in ((theirs.key, "relief_proof"), (mine.key, "home_visit_photo")):
        with pytest.raises(AppError) as caught:
            store.get(key, purpose=purpose)
        assert caught.value.code == "attachment_unreadable"
    assert store.get(mine.key, purpose="relief_proof")[:3] == b"\xff\xd8\xff"


def test_a_blob_under_an_old_key_id_still_reads_after_rotation_and_can_be_rekeyed(tmp_path: Path) -> None:
    root = tmp_path / "attachments"
    old = AttachmentStore(root, _keyring({"k1": b"1" * 32}, "k1"), max_bytes=LIMIT)
    stored = old.put(io.BytesIO(hf.pdf_plain()), purpose="relief_proof")  # type: ignore[arg-type]
    rotated = AttachmentStore(root, _keyring({"k1": b"1" * 32, "k2": b"2" * 32}, "k2"), max_bytes=LIMIT)
    assert rotated.get(stored.key, purpose="relief_proof") == hf.pdf_plain()
    assert rotated.put(io.BytesIO(hf.jpeg()), purpose="relief_proof").key_id == "k2"  # type: ignore[arg-type]
    assert rotated.key_id(stored.key) == "k1"
    assert rotated.rekey(stored.key, purpose="relief_proof") is True
    assert rotated.rekey(stored.key, purpose="relief_proof") is False
    assert rotated.key_id(stored.key) == "k2"
    assert AttachmentStore(root, _keyring({"k2": b"2" * 32}, "k2"), max_bytes=LIMIT).get(
        stored.key, purpose="relief_proof") == hf.pdf_plain()
    with pytest.raises(AppError) as caught:  # a keyring that lost the key id
        old.get(stored.key, purpose="relief_proof")
    assert caught.value.code == "attachment_unreadable"


def test_the_attachment_key_is_derived_not_the_pii_key_itself(store: AttachmentStore) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    stored = store.put(io.BytesIO(hf.jpeg()), purpose="relief_proof")  # type: ignore[arg-type]
    blob = store.path(stored.key).read_bytes()
    header = blob[4 + 1 + 2:]
    with pytest.raises(Exception):
        AESGCM(b"1" * 32).decrypt(header[:12], header[12:60], None)


# ------------------------------------------------------------------ wiring


def test_the_store_is_built_from_the_config(tmp_path: Path) -> None:
    config = load_config(env={}, data_dir=tmp_path)
    store = AttachmentStore.from_config(config, load_keyring(config))
    assert (store.root, store.max_bytes) == (tmp_path / "attachments", 10 * 1024 * 1024)
    other = load_config(env={"UNIONAID_ATTACHMENTS_DIR": str(tmp_path / "elsewhere"),
                             "UNIONAID_MAX_ATTACHMENT_BYTES": "2048"}, data_dir=tmp_path)
    store = AttachmentStore.from_config(other, load_keyring(other))
    assert (store.root, store.max_bytes) == (tmp_path / "elsewhere", 2048)
    with pytest.raises(ConfigError, match="UNIONAID_MAX_ATTACHMENT_BYTES"):
        AttachmentStore.from_config(load_config(env={}, data_dir=tmp_path, max_attachment_bytes=0), load_keyring(config))


def test_the_store_offers_what_the_port_promises() -> None:
    for name in ("put", "get", "delete"):
        assert callable(getattr(AttachmentStore, name)), name


def test_make_app_carries_the_store(tmp_path: Path) -> None:
    from server.app import make_app

    config = load_config(env={}, data_dir=tmp_path)
    app = make_app(config, None, gateway=None, keyring=load_keyring(config))  # type: ignore[arg-type]
    store = app.settings["attachments"]
    assert isinstance(store, AttachmentStore) and store.root == tmp_path / "attachments"
    app.settings["executor"].shutdown()


@pytest.mark.parametrize("seed", range(3))
def test_damaged_files_give_an_upload_error_or_a_clean_file_and_nothing_else(seed: int) -> None:
    import random

    rng = random.Random(seed)
    for original in (hf.jpeg(), hf.png(), hf.png(mode="RGBA"), hf.pdf_plain(), hf.pdf_many_pages(3)):
        for _ in range(60):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(8, len(data))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(8, len(data))]
            try:
                clean = upload_check.sanitise(io.BytesIO(bytes(data)), max_bytes=LIMIT)
            except AppError as exc:
                assert exc.code.startswith("upload_") and exc.status < 500
            else:
                assert upload_check.sniff(clean.data) == clean.mime
