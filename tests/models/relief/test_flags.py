"""Flags against a connection: a limit per child counts that child only, a flag whose cause went is cleared,
and an overridden flag is not raised again."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from models.relief import applying, flags
from models.relief.tables import relief_flags
from server.crypto import PiiCipher, load_keyring
from tests.factories import id_number, org_tree
from tests.models.relief.helpers import submitted, worker

SCHOOL = {"student_name": "王小明", "stage": "university", "school": "湖南大学", "enrolled_year": 2025}
MEDICAL = {"patient": "self", "diagnosis": "慢性肾功能衰竭，需长期透析治疗", "self_paid": 300_000,
           "situation": "本人患慢性肾衰竭，每周透析三次，家庭收入难以负担医疗费用。"}


@pytest.fixture
def cipher(config) -> PiiCipher:
    return PiiCipher(load_keyring(config))


async def test_school_aid_is_limited_per_child(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 61)
        first = await submitted(conn, cipher, wang, "school", {**SCHOOL, "student_id_number": id_number(71)})
        other_child = await submitted(conn, cipher, wang, "school", {**SCHOOL, "student_id_number": id_number(72)})
        same_child = await submitted(conn, cipher, wang, "school", {**SCHOOL, "student_id_number": id_number(71)})
        reasons = {f.reason for f in await flags.open_flags(conn, other_child.id)}
        assert "frequency" not in reasons and "same_kind_open" in reasons
        limit = [f for f in await flags.open_flags(conn, same_child.id) if f.reason == "frequency"]
        assert [(f.other_application_id, f.step) for f in limit] == [(first.id, "verification")]
        assert limit[0].view()["reason_name"] == "超过该类别的申请次数限制"


async def test_a_flag_whose_cause_went_is_cleared_and_an_override_stands(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 62)
        zhao = await worker(conn, cipher, tree["G02"], 63, name="赵六")
        first = await submitted(conn, cipher, wang, "medical", MEDICAL)
        second = await submitted(conn, cipher, zhao, "medical", MEDICAL,
                                 household=[{"name": "王秀英", "relation": "spouse", "id_number": id_number(62)}])
        [flag] = await flags.open_flags(conn, second.id)
        assert (flag.reason, flag.other_application_id, flag.other_kind, flag.other_status) == (
            "household_open", first.id, "medical", "submitted")
        # Overridden by a reviewer: recomputing at the next step does not raise it again.
        await conn.execute(relief_flags.update().where(relief_flags.c.id == flag.id)
                           .values(status="overridden", override_reason="夫妻分别申请，已核实", override_by=None))
        assert await flags.raise_flags(conn, second, "county_review", cipher=cipher) == []
        # wang's application, once withdrawn, no longer makes zhao's a duplicate: the open flag is cleared.
        await conn.execute(relief_flags.update().where(relief_flags.c.id == flag.id).values(status="open"))
        await applying.withdraw(conn, cipher, wang, first.id)
        assert await flags.raise_flags(conn, second, "county_review", cipher=cipher) == []
        statuses = (await conn.execute(sa.select(relief_flags.c.status).where(
            relief_flags.c.application_id == second.id))).scalars().all()
        assert statuses == ["cleared"]
