"""Today's relief work as counts, per step of the actor's roles, within their subtree."""
from __future__ import annotations

import pytest

from models.core.errors import Forbidden
from models.relief import worklist
from tests.console.scene import actor_of, make_scene, relief_scene


async def test_counts_per_step_within_the_subtree(engine, running):
    scene = await make_scene(engine)
    relief = await relief_scene(running, engine, scene)
    assert relief.fresh
    async with engine.connect() as conn:
        station = await worklist.at_steps(conn, actor_of(scene.staff["station1"]))
        assert [(w.step, w.waiting, w.overdue, w.flagged, w.resubmitted) for w in station] == [
            ("verification", 3, 1, 1, 1)]
        outsider = await worklist.at_steps(conn, actor_of(scene.staff["outsider"]))
        assert [(w.step, w.waiting) for w in outsider] == [("verification", 1), ("county_review", 0),
                                                           ("notice", 0)]
        admin = await worklist.today(conn, actor_of(scene.staff["admin1"]))
        assert {w.step: w.waiting for w in admin.steps}["county_review"] == 1
        assert admin.objections_open is None and admin.notices_ending is None  # not an admin's work
        reviewer = await worklist.today(conn, actor_of(scene.staff["reviewer1"]))
        assert (reviewer.objections_open, reviewer.objections_overdue, reviewer.notices_ending) == (0, 0, 0)
        with pytest.raises(Forbidden):
            await worklist.objections_open(conn, actor_of(scene.staff["station1"]))
