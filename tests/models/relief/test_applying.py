"""Applying, against a connection: merged drafts, amounts by the kind's rule, the kept definition, free text,
resubmission to the step that returned it, and withdrawal before approval."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from models.core.errors import Conflict, Invalid, NotFound, Unprocessable
from models.relief import applying, kinds, records
from models.relief.tables import relief_events
from server.crypto import PiiCipher, load_keyring
from tests.factories import org_tree, staff_actor
from tests.models.relief.helpers import submitted, worker

FORM = {"patient": "self", "diagnosis": "慢性肾功能衰竭，需长期透析治疗", "self_paid": 300_000,
        "situation": "本人患慢性肾衰竭，每周透析三次，家庭收入难以负担医疗费用。"}


@pytest.fixture
def cipher(config) -> PiiCipher:
    return PiiCipher(load_keyring(config))


def new(kind: str, **data) -> applying.NewApplication:
    return applying.NewApplication.of({"kind": kind, **data})


async def test_a_draft_merges_its_form_and_computes_the_amount_by_the_kind(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 51)
        app = await applying.create(conn, cipher, wang, new("medical", form={"patient": "self", "hospital": "湘雅"}))
        assert (app.status, app.step, app.requested_amount, app.version) == ("draft", None, None, 1)
        first = app
        app = await applying.update(conn, cipher, wang, app, applying.Change.of(
            {"form": {"self_paid": 2_000_000, "hospital": None}}))
        assert dict(app.form) == {"patient": "self", "self_paid": 2_000_000}
        assert app.requested_amount == 1_000_000  # at most the kind's cap
        with pytest.raises(Invalid) as caught:
            await applying.update(conn, cipher, wang, app, applying.Change.of({"form": {"nope": 1, "self_paid": "x"}}))
        assert caught.value.code == "relief_form" and {d["field"] for d in caught.value.details} == {"nope", "self_paid"}
        with pytest.raises(Invalid) as caught:
            await applying.update(conn, cipher, wang, app, applying.Change.of({"amount": 1000}))
        assert caught.value.code == "amount_not_allowed"
        temp = await applying.create(conn, cipher, wang, new("temporary", amount=300_000))
        assert temp.requested_amount == 300_000
        with pytest.raises(Unprocessable) as over:
            await applying.update(conn, cipher, wang, temp, applying.Change.of({"amount": 500_001}))
        assert over.value.code == "amount_over_cap"
        school = await applying.create(conn, cipher, wang, new("school", form={"stage": "university"}))
        assert school.requested_amount == 400_000
        with pytest.raises(Conflict) as stale:  # the record read before the change above is out of date
            await applying.update(conn, cipher, wang, first, applying.Change.of({"form": {}}))
        assert stale.value.code == "application_changed"


async def test_the_kind_is_kept_as_it_was_when_the_draft_was_made(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 52)
        app = await applying.create(conn, cipher, wang, new("temporary"))
        await kinds.define(conn, staff_actor(tree["C01"], "admin"), "C01", "temporary",
                           kinds.Change.of({"amount": {"basis": "cap", "amount": 100}}))
        again = await applying.get(conn, cipher, wang, app.id)
        assert again.definition.amount.amount == 500_000
        with pytest.raises(Unprocessable) as caught:
            await applying.create(conn, cipher, wang, new("living"))  # registered workers only
        assert caught.value.code == "relief_kind_not_offered"
        with pytest.raises(NotFound):
            await applying.create(conn, cipher, wang, new("nothing"))


def test_free_text_is_the_long_plain_strings() -> None:
    defn = kinds.PRESET_DEFINITIONS["medical"]
    form = {**FORM, "hospital": "湘雅医院", "treated_on": "2026-01-01"}
    assert applying.free_text(defn, form).split("\n") == [FORM["diagnosis"], "湘雅医院", FORM["situation"]]
    assert applying.free_text(kinds.PRESET_DEFINITIONS["temporary"], {"event": "illness"}) == ""


async def test_a_returned_application_goes_back_to_the_step_that_returned_it(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 53)
        app = await submitted(conn, cipher, wang, "medical", FORM)
        assert (app.status, app.step, app.due_at is not None) == ("submitted", "verification", True)
        returned = await records.save(conn, cipher, app, status="returned", step="county_review",
                                      returned_step="county_review", missing=[{"item": "diagnosis", "note": "不清晰"}])
        view = await applying.view(conn, cipher, returned)
        assert view["missing"] == [{"item": "diagnosis", "note": "不清晰"}] and view["editable"]
        again = await submitted_again(conn, cipher, wang, returned.id)
        assert (again.status, again.step, again.missing, again.returned_step) == (
            "submitted", "county_review", None, None)
        assert again.submitted_at == app.submitted_at
        actions = (await conn.execute(sa.select(relief_events.c.action).order_by(relief_events.c.id))).scalars().all()
        assert actions == ["created", "submitted", "resubmitted"]
        with pytest.raises(Conflict):
            await submitted_again(conn, cipher, wang, again.id)  # frozen once submitted


async def submitted_again(conn, cipher, actor, app_id):
    from models.relief import consent

    ready = await applying.ready(conn, cipher, actor, app_id,
                                 applying.Submission.of({"consent_version": consent.CONSENT_VERSION}))
    return await applying.submit(conn, cipher, actor, ready, check=SimpleNamespace(verdict="pass"))


async def test_withdrawal_ends_before_approval(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 54)
        app = await submitted(conn, cipher, wang, "medical", FORM)
        at_approval = await records.save(conn, cipher, app, step="approval")
        with pytest.raises(Conflict) as caught:
            await applying.withdraw(conn, cipher, wang, at_approval.id)
        assert caught.value.code == "application_not_withdrawable"
        draft = await applying.create(conn, cipher, wang, new("temporary"))
        assert (await applying.withdraw(conn, cipher, wang, draft.id)).status == "withdrawn"


async def test_a_risky_verdict_writes_nothing(engine, cipher) -> None:
    async with engine.begin() as conn:
        tree = await org_tree(conn)
        wang = await worker(conn, cipher, tree["G01"], 55)
        app = await applying.create(conn, cipher, wang, new("medical", form=FORM),
                                    check=SimpleNamespace(verdict="review"))
        assert app.content_status == "review"
        with pytest.raises(Unprocessable) as caught:
            await applying.update(conn, cipher, wang, app, applying.Change.of({"form": {"situation": "x" * 20}}),
                                  check=SimpleNamespace(verdict="risky"))
        assert caught.value.code == "content_risky"
        assert (await applying.get(conn, cipher, wang, app.id)).version == app.version
