"""`unionaid demo-tour` plays the demo's story against a scratch service and shows every request and answer."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from models.members.idcard import parse_id_number
from scripts.demo import DEMO_MEMBER, PEOPLE
from scripts.demo_tour import pretty


def test_demo_tour_plays_the_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONAID_")}
    # A configured data dir and database are the newcomer's own: the tour must not touch them.
    env["UNIONAID_DATA_DIR"] = str(tmp_path / "mine")
    env["UNIONAID_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'mine' / 'db.sqlite3'}"
    done = subprocess.run([sys.executable, "-m", "scripts.cli", "demo-tour"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    out = done.stdout
    assert not (tmp_path / "mine").exists() and not (tmp_path / "var").exists()
    # Every side of the story, each request shown with its method and path, and a readable answer.
    steps = re.findall(r"^── (\d+)\. \[(worker|staff|cashier)\] ", out, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 11
    assert {side for _, side in steps} == {"worker", "staff", "cashier"}
    for request in ("POST /api/v1/auth/wechat", "POST /api/v1/me/bind", "GET /api/v1/me", "GET /api/v1/me/card",
                    "POST /api/v1/auth/staff", "POST /api/v1/merchant/bind", "GET /api/v1/me/card/qr",
                    "POST /api/v1/merchant/scan", "POST /api/v1/merchant/redemptions", "GET /api/v1/me/redemptions"):
        assert f"\n{request}\n" in out, request
    assert re.search(r"^POST /api/v1/staff/merchants/\d+/invites$", out, re.MULTILINE)
    assert f'"id_number": "{DEMO_MEMBER[1]}"' in out
    assert "← 201 Created" in out and "(Idempotent-Replayed: true)" in out
    # Images and QR tokens are cut, not dumped.
    assert "[a JPEG image in base64, " in out and "…[135 characters]" in out  # WeChat sends JPEG codes
    assert max(len(line) for line in out.splitlines()) < 200
    assert out.rstrip().endswith("the union owes the pharmacy 108.80 (settled monthly), the pharmacy conceded 19.20.")
    assert "paid 0.00" in out


def test_pretty_keeps_short_values_on_one_line() -> None:
    assert pretty({"a": 1, "b": [1, 2]}) == '{"a": 1, "b": [1, 2]}'
    spread = pretty({"k": "x" * 60, "l": {"m": "y" * 60}})
    assert spread.splitlines()[0] == "{" and spread.splitlines()[-1] == "}"


def test_demo_people_agree_with_their_id_numbers() -> None:
    """Name, gender and birth date of every demo member agree with the ID number the roster holds."""
    numbers = [p.id_number(n) for n, p in enumerate(PEOPLE, 1)]
    assert len(set(numbers)) == len(PEOPLE) == 20
    assert DEMO_MEMBER == (PEOPLE[0].name, numbers[0]) == ("张秀英", numbers[0])
    for person, number in zip(PEOPLE, numbers):
        parsed = parse_id_number(number)  # a valid check digit, or this raises
        assert (parsed.gender, parsed.birth_date) == (person.gender, person.birth), person.name
    assert parse_id_number(DEMO_MEMBER[1]).gender == "female"


async def test_the_demo_difficult_worker_is_confirmed_by_a_second_staff_account(config, engine) -> None:
    """The tour's drug card needs 张秀英 in force in the register: entered by the clerk, confirmed by the reviewer."""
    import sqlalchemy as sa

    from models.identity.tables import staff
    from models.members import hardship
    from models.members.tables import hardship_records, members
    from scripts.demo import load_demo

    assert (await load_demo(config, engine))["created"] is True
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(hardship_records)
                                  .join(members, members.c.id == hardship_records.c.member_id)
                                  .where(members.c.name == DEMO_MEMBER[0]))).one()
        names = dict((await conn.execute(sa.select(staff.c.id, staff.c.username))).all())
        assert await hardship.registered(conn, row.member_id) == "deep"
    assert (row.status, names[row.verified_by], names[row.decided_by]) == ("active", "clerk", "reviewer")
