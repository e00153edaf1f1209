import time
from tests.factories import counter

async def test_scratch(api, engine, running):
    t = time.time()
    scene = await counter(api, engine, running)
    print("counter", time.time() - t)
    qr = await api.get("/api/v1/me/card/qr", token=scene.worker)
    print(qr.data)
    s = await api.post("/api/v1/merchant/scan", {"qr": qr.data["token"]}, token=scene.cashier)
    print(s.status, s.data)
    print(running.settings["config"].qr_ttl if "config" in running.settings else list(running.settings))
