"""Benchmark: import a roster of N members (default 100,000) into a fresh database and print the times.

    python -m scripts.bench_import [--rows 100000] [--format csv|xlsx]
        [--mysql mysql+aiomysql://root@127.0.0.1:3306/test]

Creates a scratch database on the server, imports twice (the second run must
change nothing), prints parse, import and re-import seconds, and drops it.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from models.cards import usecases as card_flows
from models.core.actors import SYSTEM
from models.db import schema
from models.members.idcard import check_digit
from models.members.roster import parse_roster
from models.network import tree as orgs
from server.config import load_config
from server.crypto import PiiCipher, load_keyring
from server.db import make_engine

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def make_roster(rows: int, fmt: str) -> bytes:
    unique = []
    g = len(GIVEN)
    for i in range(rows):  # distinct (birth date, sequence) pairs for up to 336,000 rows
        first17 = f"430102{1950 + (i // 336000) % 50}{(i // 28000) % 12 + 1:02d}{(i // 1000) % 28 + 1:02d}{i % 1000:03d}"
        unique.append((SURNAMES[i % len(SURNAMES)] + GIVEN[i % g] + GIVEN[(i // g) % g],
                       first17 + check_digit(first17), f"13{i:09d}", f"第{i % 300}机械厂"))
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(["姓名", "身份证号", "手机号", "工作单位"])
        for row in unique:
            ws.append(list(row))
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    lines = ["姓名,身份证号,手机号,工作单位"] + [",".join(r) for r in unique]
    return ("\n".join(lines) + "\n").encode("utf-8")


async def run(rows: int, fmt: str, server_url: str) -> None:
    data = make_roster(rows, fmt)
    name = f"unionaid_bench_{uuid.uuid4().hex[:8]}"
    server = create_async_engine(server_url)
    async with server.begin() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        config = load_config(env={}, data_dir=Path(tempfile.mkdtemp()), database_url=url)
        engine = make_engine(config)
        await schema.upgrade(engine)
        cipher = PiiCipher(load_keyring(config))
        async with engine.begin() as conn:
            unit = await orgs.create(conn, SYSTEM, code="BENCH", name="基准工会", type_="grassroots", parent_code=None)
        t0 = time.perf_counter()
        parsed = parse_roster(data, f"roster.{fmt}", max_bytes=50 * 1024 * 1024)
        t1 = time.perf_counter()
        async with engine.begin() as conn:
            report = await card_flows.import_roster(conn, cipher, SYSTEM, parsed, org=unit)
        t2 = time.perf_counter()
        async with engine.begin() as conn:
            again = await card_flows.import_roster(conn, cipher, SYSTEM, parse_roster(data, f"roster.{fmt}",
                                                                                  max_bytes=50 * 1024 * 1024), org=unit)
        t3 = time.perf_counter()
        print(f"rows in file:        {parsed.total} ({len(data) / 1e6:.1f} MB {fmt}), problems {len(parsed.problems)}")
        print(f"parse + validate:    {t1 - t0:.2f} s")
        print(f"import (1 tx):       {t2 - t1:.2f} s  created {report.created}")
        print(f"parse + re-import:   {t3 - t2:.2f} s  created {again.created}, unchanged {again.unchanged}")
        print(f"total first import:  {t2 - t0:.2f} s")
        await engine.dispose()
    finally:
        async with server.begin() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        await server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--mysql", default="mysql+aiomysql://root@127.0.0.1:3306/test")
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.format, args.mysql))


if __name__ == "__main__":
    main()
