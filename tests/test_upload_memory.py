"""The serving process's memory across roster uploads, measured from outside.

The real `unionaid serve` runs in its own process; a member of staff uploads XLSX bombs (a 200 KB
file whose one cell or shared string expands to 200 MB, hundreds of thousands of empty rows or
columns), eight at once, twice. Each is refused with a 400, and the process's peak resident
memory (VmHWM, read from /proc) grows by less than 50 MB. A large legitimate upload (a roster
with a big picture in it) is spooled to disk and read from there: the server does not grow by
the upload's size.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import hostile_files
from tests.test_cli import _env, _free_port, _post, _wait_for

MIB = 1024 * 1024
BOMBS = [hostile_files.cell_bomb, hostile_files.shared_string_bomb, hostile_files.many_rows_bomb,
         hostile_files.many_columns_bomb, hostile_files.many_shared_strings_bomb,
         hostile_files.unrelated_member_bomb, hostile_files.bzip2_bomb, hostile_files.cell_bomb]


def _status(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def _upload(base: str, token: str, data: bytes, org: str) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"org\"\r\n\r\n{org}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"roster.xlsx\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(base + "/api/v1/staff/members/import", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_parallel_bomb_uploads_leave_the_server_under_50_mb_of_growth(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
                            env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/readyz", proc, seconds=60)
        from scripts.demo import DEMO_PASSWORD

        token = _post(base + "/api/v1/auth/staff", {"username": "admin", "password": DEMO_PASSWORD})["token"]
        files = [bomb() for bomb in BOMBS]
        assert all(len(f) < 2 * MIB for f in files)
        # Warm up the upload path (imports, thread pool, parser) with one refusal.
        assert _upload(base, token, files[0], "CS")[0] == 400
        # Reset the peak to what is resident now (the demo's loading peaked higher): "5" > clear_refs.
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        before = _status(proc.pid)
        assert before["VmHWM"] - before["VmRSS"] < 4 * MIB, before
        for _round in range(2):
            with ThreadPoolExecutor(max_workers=len(files)) as pool:
                answers = list(pool.map(lambda data: _upload(base, token, data, "CS"), files))
            for status, body in answers:
                assert status == 400, body
                assert body["error"]["code"].startswith("roster_"), body
        after = _status(proc.pid)
        growth = (after["VmHWM"] - before["VmHWM"]) / MIB
        print(f"\nserver VmHWM {before['VmHWM'] / MIB:.1f} -> {after['VmHWM'] / MIB:.1f} MiB "
              f"(+{growth:.1f}), VmRSS {before['VmRSS'] / MIB:.1f} -> {after['VmRSS'] / MIB:.1f} MiB, "
              f"after {2 * len(files)} bombs, {len(files)} at a time")
        assert growth < 50, f"the server grew by {growth:.1f} MiB"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _roster_with_a_picture(picture_bytes: int) -> bytes:
    """A real roster workbook of three rows with a large (incompressible) picture pasted in."""
    from openpyxl import Workbook

    from tests.factories import id_number

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["姓名", "身份证号", "手机号", "工作单位"])
    for n, name in enumerate(("张大山", "李小河", "王一石"), 1):
        ws.append([name, id_number(900 + n), f"1390000{n:04d}", "长沙市第一工厂"])
    out = io.BytesIO()
    wb.save(out)
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as z:
        z.writestr("xl/media/image1.png", b"\x89PNG\r\n\x1a\n" + os.urandom(picture_bytes))
    return out.getvalue()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_large_legitimate_upload_does_not_grow_the_server_by_its_size(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, UNIONAID_MAX_UPLOAD_BYTES=str(40 * MIB))
    proc = subprocess.Popen([sys.executable, "-m", "scripts.cli", "serve", "--demo", "--port", str(port)],
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/readyz", proc, seconds=60)
        from scripts.demo import DEMO_PASSWORD

        token = _post(base + "/api/v1/auth/staff", {"username": "admin", "password": DEMO_PASSWORD})["token"]
        small, large = _roster_with_a_picture(1 * MIB), _roster_with_a_picture(32 * MIB)
        # Warm up the upload path (imports, thread pool, parser) with a small one.
        status, body = _upload(base, token, small, "CS")
        assert status == 200 and body["created"] == 3, body
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
        before = _status(proc.pid)
        status, body = _upload(base, token, large, "CS")
        after = _status(proc.pid)
        assert status == 200 and (body["total"], body["unchanged"]) == (3, 3), body
        growth = (after["VmHWM"] - before["VmHWM"]) / MIB
        print(f"\nserver VmHWM {before['VmHWM'] / MIB:.1f} -> {after['VmHWM'] / MIB:.1f} MiB (+{growth:.1f}) "
              f"for an upload of {len(large) / MIB:.1f} MiB")
        # Held in memory, the body alone (then joined, then the file part cut from it) was 2-3 times its size.
        assert growth < len(large) / MIB / 4, f"the server grew by {growth:.1f} MiB"
        assert list((tmp_path / "var" / "tmp").iterdir()) == []
    finally:
        proc.terminate()
        proc.wait(timeout=30)
