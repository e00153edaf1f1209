"""The service hashes staff passwords with argon2id at the library's RFC 9106 low-memory profile (the suite
itself hashes at the lowest cost: tests/conftest.py), and verifies any argon2id hash by the cost it names."""
from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY

from server.passwords import Argon2Passwords


async def test_the_service_hashes_at_the_production_cost_and_verifies_by_the_hashs_own_cost() -> None:
    service = Argon2Passwords()
    stored = await service.hash("Str0ng-Passw0rd!")
    params = extract_parameters(stored)
    assert stored.startswith("$argon2id$")
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost, RFC_9106_LOW_MEMORY.parallelism)
    assert await service.verify(stored, "Str0ng-Passw0rd!")
    assert not await service.verify(stored, "wrong")
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("Str0ng-Passw0rd!")
    assert await service.verify(cheap, "Str0ng-Passw0rd!")
    assert not await service.verify(None, "Str0ng-Passw0rd!")  # an unknown user: refused, after the same work
