"""The administrative verbs as an operator runs them: create-org, create-staff, import-members,
rotate-qr-key, audit-verify, audit-checkpoint and rebuild-relief-stats."""
from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.audit_checkpoints import LOG_FILE


@pytest.fixture
def cli(tmp_path: Path):
    """Run `unionaid ...` against a fresh, migrated SQLite file in tmp_path."""
    db = tmp_path / "admin.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")}
    env["UNIONAID_DATA_DIR"] = str(tmp_path / "var")
    env["UNIONAID_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scripts.cli", *args], env=env, cwd=tmp_path, input=stdin,
                              capture_output=True, text=True, timeout=120)

    assert run("migrate").returncode == 0
    run.db = db  # type: ignore[attr-defined]
    return run


def test_create_org_tree(cli):
    root = cli("create-org", "--code", "GD", "--name", "广东省总工会")
    assert root.returncode == 0, root.stderr
    assert "GD" in root.stdout
    city = cli("create-org", "--code", "GZ", "--name", "广州市总工会", "--parent", "GD", "--type", "city")
    assert city.returncode == 0, city.stderr
    dup = cli("create-org", "--code", "GZ", "--name", "重复", "--parent", "GD")
    assert dup.returncode == 1 and "org_code_taken" in dup.stderr
    orphan = cli("create-org", "--code", "X1", "--name", "无上级", "--parent", "NOPE")
    assert orphan.returncode == 1 and "org_not_found" in orphan.stderr
    bad_type = cli("create-org", "--code", "X2", "--name", "x", "--type", "planet")
    assert bad_type.returncode == 2
    with sqlite3.connect(cli.db) as conn:
        rows = conn.execute("SELECT code, depth, path FROM orgs ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("GD", 0), ("GZ", 1)]
    assert rows[1][2].startswith(rows[0][2])


def test_create_staff_reads_password_from_stdin(cli):
    assert cli("create-org", "--code", "GD", "--name", "广东省总工会").returncode == 0
    made = cli("create-staff", "--username", "wang.li", "--role", "admin", "--role", "station,reviewer",
               "--org", "GD", "--password-stdin", stdin="Strong-pass-2026\n")
    assert made.returncode == 0, made.stderr
    assert "Strong-pass-2026" not in made.stdout + made.stderr
    with sqlite3.connect(cli.db) as conn:
        username, roles, pw_hash = conn.execute("SELECT username, roles, password_hash FROM staff").fetchone()
    assert (username, roles) == ("wang.li", "admin,reviewer,station")
    assert pw_hash.startswith("$argon2id$")
    weak = cli("create-staff", "--username", "zhao", "--role", "admin", "--org", "GD", "--password-stdin",
               stdin="short\n")
    assert weak.returncode == 1 and "password_too_short" in weak.stderr
    bad_role = cli("create-staff", "--username", "zhao", "--role", "root", "--org", "GD", "--password-stdin",
                   stdin="Strong-pass-2026\n")
    assert bad_role.returncode == 1 and "staff_role_unknown" in bad_role.stderr
    no_stdin = cli("create-staff", "--username", "zhao", "--role", "admin", "--org", "GD")
    assert no_stdin.returncode == 2


def test_audit_verify_ok_then_broken(cli):
    assert cli("create-org", "--code", "GD", "--name", "广东省总工会").returncode == 0
    assert cli("create-org", "--code", "GZ", "--name", "广州市总工会", "--parent", "GD").returncode == 0
    assert cli("create-org", "--code", "SZ", "--name", "深圳市总工会", "--parent", "GD").returncode == 0
    ok = cli("audit-verify")
    assert ok.returncode == 0, ok.stderr
    assert "审计日志完好" in ok.stdout and "3 条记录" in ok.stdout and "3 个检查点" in ok.stdout
    with sqlite3.connect(cli.db) as conn:
        conn.execute("""UPDATE audit_log SET summary = '{"code": "XX"}' WHERE id = 2""")
    broken = cli("audit-verify")
    assert broken.returncode == 1
    assert "审计日志已损坏（记录 id 2）" in broken.stdout and "内容被改动" in broken.stdout
    assert not re.search(r"[A-Za-z]{4,}", broken.stdout)  # Chinese for staff (an id or a count aside)


def test_a_command_seals_and_checkpoints_its_records_before_it_exits(cli, tmp_path):
    """Records a CLI command wrote cannot be altered before anything seals them: the command sealed them
    and signed the head into the checkpoint file before it exited."""
    assert cli("create-org", "--code", "GD", "--name", "广东省总工会").returncode == 0
    made = cli("create-staff", "--username", "wang.li", "--role", "admin", "--org", "GD", "--password-stdin",
               stdin="Strong-pass-2026\n")
    assert made.returncode == 0, made.stderr
    with sqlite3.connect(cli.db) as conn:
        rows = conn.execute("SELECT id, action, seq FROM audit_log ORDER BY id").fetchall()
        head = conn.execute("SELECT last_id, last_hash FROM audit_head").fetchone()
    assert [(r[1], r[2]) for r in rows] == [("org.create", 1), ("staff.create", 2)]
    lines = [json.loads(line) for line in (tmp_path / "var" / LOG_FILE).read_text().splitlines()]
    assert [(c["seq"], c["hash"]) for c in lines] == [(1, lines[0]["hash"]), tuple(head)]
    # A refused command wrote nothing, seals nothing, checkpoints nothing.
    assert cli("create-org", "--code", "GD", "--name", "重复").returncode == 1
    assert len((tmp_path / "var" / LOG_FILE).read_text().splitlines()) == 2
    # Altered after the command exited: the record is sealed, so the check catches it.
    with sqlite3.connect(cli.db) as conn:
        conn.execute("UPDATE audit_log SET summary = '{}' WHERE id = ?", (rows[1][0],))
    broken = cli("audit-verify")
    assert broken.returncode == 1 and "第 2 条记录" in broken.stdout and "内容被改动" in broken.stdout


def test_audit_verify_seals_nothing_it_judges(cli):
    """A record nobody sealed is reported as pending with its age, not sealed as good by the check."""
    assert cli("create-org", "--code", "GD", "--name", "广东省总工会").returncode == 0
    with sqlite3.connect(cli.db) as conn:
        conn.execute("INSERT INTO audit_log (created_at, actor_kind, action, summary) "
                     "VALUES ('2026-01-01 00:00:00.000000', 'system', 'org.create', '{\"forged\": true}')")
    first = cli("audit-verify")
    assert first.returncode == 0, first.stdout
    assert "另有 1 条记录尚未封存" in first.stdout and "北京时间 2026-01-01 08:00:00" in first.stdout
    with sqlite3.connect(cli.db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE seq IS NULL").fetchone() == (1,)
    assert "另有 1 条记录尚未封存" in cli("audit-verify").stdout


def test_a_cut_tail_with_its_head_rolled_back_is_caught_by_the_checkpoint(cli):
    for code, parent in (("GD", None), ("GZ", "GD"), ("SZ", "GD")):
        args = ["create-org", "--code", code, "--name", f"{code}总工会"] + (["--parent", parent] if parent else [])
        assert cli(*args).returncode == 0
    with sqlite3.connect(cli.db) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
        conn.execute("UPDATE audit_head SET last_id = 2, last_hash = (SELECT hash FROM audit_log WHERE seq = 2)")
    broken = cli("audit-verify")
    assert broken.returncode == 1, broken.stdout
    assert "审计链只到第 2 条" in broken.stdout and "已封存到第 3 条" in broken.stdout


def test_audit_checkpoint_on_demand_and_a_garbled_line_reported(cli, tmp_path):
    empty = cli("audit-checkpoint")
    assert empty.returncode == 0 and "未写检查点" in empty.stdout
    assert cli("create-org", "--code", "GD", "--name", "广东省总工会").returncode == 0
    made = cli("audit-checkpoint")
    assert made.returncode == 0, made.stderr
    assert "已写入检查点：审计链第 1 条" in made.stdout and "公钥" in made.stdout
    path = tmp_path / "var" / LOG_FILE
    assert len(path.read_text().splitlines()) == 2
    assert stat.S_IMODE(os.stat(tmp_path / "var" / "audit_keys.json").st_mode) == 0o600
    lines = path.read_text().splitlines()
    forged = json.loads(lines[1])
    forged["hash"] = "0" * 64
    path.write_text(lines[0] + "\n" + json.dumps(forged) + "\n" + "garbage\n")
    broken = cli("audit-verify")
    assert broken.returncode == 1
    assert "检查点文件第 2 行不可信：签名不符" in broken.stdout and "检查点文件第 3 行不可信" in broken.stdout


def test_import_members_report_and_exit_codes(cli, tmp_path):
    from tests.factories import id_number, roster_csv

    assert cli("create-org", "--code", "G1", "--name", "东湖社区工会").returncode == 0
    good = tmp_path / "good.csv"
    good.write_bytes(roster_csv([("张三", id_number(1), "13800000001"), ("李四", id_number(2), "")]).decode()
                     .encode("gbk"))
    first = cli("import-members", str(good), "--org", "G1")
    assert first.returncode == 0, first.stderr
    assert "2 created" in first.stdout
    again = cli("import-members", str(good), "--org", "G1")
    assert again.returncode == 0 and "0 created" in again.stdout and "2 unchanged" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_bytes(roster_csv([("王五", id_number(3), ""), ("赵六", "110101198001011230", "")]))
    strict = cli("import-members", str(bad), "--org", "G1", "--strict")
    assert strict.returncode == 1
    assert "第 3 行" in strict.stdout and "NOTHING written" in strict.stdout
    lenient = cli("import-members", str(bad), "--org", "G1")
    assert lenient.returncode == 1 and "1 created" in lenient.stdout
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused = cli("import-members", str(empty), "--org", "G1")
    assert refused.returncode == 1 and "roster_empty" in refused.stderr


def test_rotate_qr_key(cli, tmp_path):
    import json

    first = cli("rotate-qr-key")
    assert first.returncode == 0, first.stderr
    assert "signed with key 2" in first.stdout and "1" in first.stdout.split("verifying:")[1]
    stored = json.loads((tmp_path / "var" / "qr_keys.json").read_text())
    assert stored["current"] == 2 and set(stored["keys"]) == {"1", "2"}
    assert cli("rotate-qr-key", "--keep", "0").returncode == 2


def test_rebuild_relief_stats_checks_then_counts_the_summary_afresh(cli):
    assert cli("rebuild-relief-stats", "--check").returncode == 0
    with sqlite3.connect(cli.db) as conn:  # a row no timeline explains (a correction by hand gone wrong)
        conn.execute("INSERT INTO relief_tallies (scope, span, day, kind, figure, n, amount, first_id) "
                     "VALUES ('/1/', 'd', '2026-01-05', 'temporary', 'received', 3, 0, 1)")
    checked = cli("rebuild-relief-stats", "--check")
    assert checked.returncode == 1 and "differs from a fresh count (1 rows)" in checked.stdout, checked.stdout
    rebuilt = cli("rebuild-relief-stats")
    assert rebuilt.returncode == 0 and "0 rows in relief_tallies" in rebuilt.stdout, rebuilt.stderr
    assert cli("rebuild-relief-stats", "--check").returncode == 0
