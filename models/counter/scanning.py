"""Scanning at the counter: claim a scanned code once, check the second factor, open a scan session.

A phone code's nonce can be claimed by one scan only: the session's ``claimed_nonce``, unique,
decides the race on every process (one statement: the session is the claim). A printed code asks the cashier for the last 4 digits of the holder's
ID number. Every scan session opened is audited (``counter.scan``: which card, at which store, by
which cashier, under the merchant's unit) in the scan's transaction.
"""

import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.cards.codes import check_code, status_error
from models.cards.tables import cards, qr_nonces
from models.core import audit, throttle
from models.core.clock import utcnow
from models.core.errors import AppError, Conflict, Forbidden, Invalid, RateLimited
from models.core.masking import mask_name
from models.core.ports import QrSigner
from models.counter.tables import scan_sessions
from models.db.direct import Direct
from models.db.sql import insert_ignore
from models.members.tables import members
from models.network.tables import orgs
from models.partners.partnership import Cashier
from models.partners.programmes import period_key
from models.partners.tables import quota_usage

FACTOR_LIMIT = 5
FACTOR_WINDOW = timedelta(minutes=30)
FACTOR_LOCK = timedelta(hours=1)
SESSION_KEPT = timedelta(days=7)


class SecondFactorWrong(Forbidden):
    """The last 4 digits given for a printed card were wrong; the caller counts the failure."""

    def __init__(self, card_id: int) -> None:
        super().__init__("id_last4_wrong", "身份证后四位不符")
        self.card_id = card_id


def factor_key(card_id: int) -> str:
    """The throttle key counting a printed card's wrong ID-number digits."""
    return f"card_factor:{card_id}"


@dataclass(frozen=True)
class ScannedCard:
    """What a scan needs of the card: the rest of its row is never read at the counter (every column a
    scan reads costs the driver's parsing, on every scan)."""

    id: int
    card_no: str
    version: int
    status: str
    print_nonce: str | None


def _scanned(row: Any) -> ScannedCard:
    return ScannedCard(row.id, row.card_no, row.version, row.status, row.print_nonce)


@dataclass(frozen=True)
class Scan:
    """An open scan session: the card and masked holder, which cashier opened it, and its expiry."""

    id: str
    card: ScannedCard
    member_id: int
    holder_masked: str
    printed: bool
    expires_at: datetime
    merchant_id: int
    store_id: int
    cashier_id: int
    # The holder's membership status and unit path, for the benefits this scan shows.
    member: tuple[str, str] = ("active", "/")
    #: The holder's quota usage rows of the scan's month and year, (programme, period) -> (money, count),
    #: read with the card (None when not read).
    used: dict[tuple[int, str], tuple[int, int]] | None = None


_MERCHANT_ORG = orgs.alias("merchant_org")
_MERCHANT_PATH = (sa.select(_MERCHANT_ORG.c.path).where(_MERCHANT_ORG.c.id == sa.bindparam("merchant_org_id"))
                  .scalar_subquery().label("merchant_path"))
_HOLDER = (sa.select(cards.c.id, cards.c.card_no, cards.c.member_id, cards.c.version, cards.c.status,
                     cards.c.print_nonce, members.c.name, members.c.id_last4, members.c.status.label("member_status"),
                     orgs.c.path.label("member_path"), _MERCHANT_PATH)
           .join(members, members.c.id == cards.c.member_id).join(orgs, orgs.c.id == members.c.org_id)
           .where(cards.c.id == sa.bindparam("card_id")))
# ... and with the holder's usage rows of this month and year (one row each; one row of NULLs when none).
_HOLDER_USAGE = (_HOLDER.add_columns(quota_usage.c.program_id.label("usage_program_id"),
                                     quota_usage.c.period_key.label("usage_period_key"),
                                     quota_usage.c.money_used, quota_usage.c.count_used)
                 .outerjoin(quota_usage, sa.and_(quota_usage.c.member_id == members.c.id,
                                                 quota_usage.c.period_key.in_([sa.bindparam("month"),
                                                                               sa.bindparam("year")]))))


_HOLDER_DIRECT, _HOLDER_USAGE_DIRECT = Direct(_HOLDER), Direct(_HOLDER_USAGE)


# The statements of every scan and redemption, built once (on MySQL sent straight to the driver: models/db/direct.py).
_OPEN = Direct(scan_sessions.insert())
_OPEN_CLAIMING = Direct(insert_ignore(scan_sessions))  # skipped (rowcount 0) when the code's nonce is claimed
_CLAIMED = sa.select(scan_sessions).where(scan_sessions.c.claimed_nonce == sa.bindparam("nonce"))
_SCAN = sa.select(scan_sessions).where(scan_sessions.c.id == sa.bindparam("scan_id"))
_SCAN_LOCKED = _SCAN.with_for_update()
_USE_SCAN = Direct(scan_sessions.update().where(scan_sessions.c.id == sa.bindparam("scan_id"),
                                                 scan_sessions.c.used_at.is_(None))
                   .values(used_at=sa.bindparam("now")))


async def _holder(conn: AsyncConnection, card_id: int, merchant_org_id: int) -> Any:
    """The card with its holder's name, ID digits, status and unit path, and the merchant's unit path."""
    return await _HOLDER_DIRECT.first(conn, {"card_id": card_id, "merchant_org_id": merchant_org_id})


async def open_scan(
    conn: AsyncConnection, signer: QrSigner, cashier: Cashier, qr: str, *, ttl: int, skew: int, scan_ttl: int,
    id_last4: str | None = None, now: float | None = None, today: date | None = None,
) -> Scan:
    """Check the code, the card and its holder; claim the code; open a scan session for this cashier.

    With ``today``, the holder's quota usage of today's month and year comes with the card (``Scan.used``).
    """
    if not cashier.store_id:
        raise Forbidden("store_required", "请以门店收银员身份扫码（商家管理员须由门店邀请）")
    token = check_code(signer, qr, ttl=ttl, skew=skew, now=now)
    used: dict[tuple[int, str], tuple[int, int]] | None = None
    if today is None:
        row = await _holder(conn, token.card_id, cashier.merchant.org_id)
    else:
        rows = await _HOLDER_USAGE_DIRECT.all(conn, {
            "card_id": token.card_id, "merchant_org_id": cashier.merchant.org_id,
            "month": period_key("month", today), "year": period_key("year", today)})
        row = rows[0] if rows else None
        used = {(r.usage_program_id, r.usage_period_key): (r.money_used, r.count_used)
                for r in rows if r.usage_program_id is not None}
    if row is None:
        raise Invalid("qr_invalid", "无法识别的服务卡二维码")
    card = _scanned(row)
    if row.member_status != "active" and card.status in ("active", "frozen"):
        raise status_error("cancelled")
    if card.status != "active":
        raise status_error(card.status)
    if card.version != token.card_version or (token.printed and token.nonce.hex() != card.print_nonce):
        raise AppError("qr_outdated", "二维码已失效（服务卡已变更或已重新制卡）", status=422)
    nonce = token.nonce.hex()
    current = utcnow()
    scan = Scan(secrets.token_urlsafe(18), card, row.member_id, mask_name(row.name), token.printed,
                current + timedelta(seconds=scan_ttl), cashier.merchant_id, cashier.store_id, cashier.id,
                (row.member_status, row.member_path), used)
    values = dict(
        id=scan.id, card_id=card.id, card_version=card.version, member_id=scan.member_id, cashier_id=cashier.id,
        store_id=cashier.store_id, merchant_id=cashier.merchant_id, nonce=nonce, printed=token.printed,
        created_at=current, expires_at=scan.expires_at)
    if token.printed:
        await _second_factor(conn, card.id, row.id_last4, id_last4)
        await _OPEN.run(conn, {**values, "claimed_nonce": None})
    else:
        # The session claims the code: its unique claimed_nonce lets one scan of a code in.
        claimed = await _OPEN_CLAIMING.run(conn, {**values, "claimed_nonce": nonce})
        if claimed.rowcount != 1:
            return await _claimed_before(conn, nonce, cashier, current)
    await audit.record(conn, cashier.actor(), "counter.scan", target_kind="card", target_id=card.id,
                       org_path=row.merchant_path, summary={
                           "card_id": card.id, "card_version": card.version, "member_id": scan.member_id,
                           "merchant_id": cashier.merchant_id, "store_id": cashier.store_id,
                           "cashier_id": cashier.id, "printed": token.printed})
    return scan


async def _second_factor(conn: AsyncConnection, card_id: int, expected: str, given: str | None) -> None:
    until = await throttle.locked_until(conn, factor_key(card_id))
    if until is not None:
        minutes = max(1, int((until - utcnow()).total_seconds() // 60))
        raise RateLimited("card_locked", f"身份证后四位错误次数过多，该实体卡已锁定，请 {minutes} 分钟后再试",
                          headers={"Retry-After": str(minutes * 60)})
    if not given:
        raise AppError("id_last4_required", "实体卡需核对持卡人身份证号后四位", status=422)
    if not hmac.compare_digest(given.strip().upper().encode(), expected.upper().encode()):
        raise SecondFactorWrong(card_id)


async def factor_failed(conn: AsyncConnection, card_id: int) -> AppError:
    """Count a wrong answer (in its own transaction); the error to show, a lock-out when it caused one."""
    until = await throttle.fail(conn, factor_key(card_id), limit=FACTOR_LIMIT, window=FACTOR_WINDOW,
                                lock_for=FACTOR_LOCK)
    if until is not None:
        return RateLimited("card_locked", "身份证后四位错误次数过多，该实体卡已锁定 1 小时",
                           headers={"Retry-After": str(int(FACTOR_LOCK.total_seconds()))})
    return Forbidden("id_last4_wrong", "身份证后四位不符，请核对")


async def _claimed_before(conn: AsyncConnection, nonce: str, cashier: Cashier, now: datetime) -> Scan:
    """The code was claimed by another scan: its open session when the same cashier scans the same code
    again; ``qr_used`` for anyone else (or once that session is used or expired). A concurrent claim waits
    on the index entry until the first commits, then finds it taken."""
    row = (await conn.execute(_CLAIMED, {"nonce": nonce})).first()
    if row is not None and row.cashier_id == cashier.id and row.used_at is None and row.expires_at > now:
        held = await _holder(conn, row.card_id, cashier.merchant.org_id)
        return Scan(row.id, _scanned(held), row.member_id, mask_name(held.name), False, row.expires_at,
                    row.merchant_id, row.store_id, row.cashier_id, (held.member_status, held.member_path))
    raise Conflict("qr_used", "该二维码已被使用，请持卡人刷新后重新扫码")


async def get_scan(conn: AsyncConnection, cashier: Cashier, scan_id: str, *, lock: bool = False) -> Any:
    """The open scan session of this cashier, for a redemption."""
    row = (await conn.execute(_SCAN_LOCKED if lock else _SCAN, {"scan_id": scan_id})).first()
    if row is None or row.cashier_id != cashier.id:
        raise AppError("scan_not_found", "扫码记录不存在，请重新扫码", status=404)
    if row.expires_at <= utcnow():
        raise AppError("scan_expired", "扫码已超时，请重新扫码", status=422)
    return row


async def spend(conn: AsyncConnection, scan: Any) -> None:
    """Spend the scanned code for good; a second redemption of it is refused (``qr_used``).

    Run it before the redemption and keep it when that is refused (a transaction of its
    own, or before a savepoint), so that a refused redemption still spends the code. The
    session's ``used_at`` is what spends it: a rescan of the same code finds its nonce's
    session used (``_claim``), so the nonce's ``spent_at`` is no longer written.
    """
    result = await _USE_SCAN.run(conn, {"scan_id": scan.id, "now": utcnow()})
    if result.rowcount != 1:
        raise Conflict("qr_used", "该二维码已被使用，请持卡人刷新后重新扫码")


async def purge(conn: AsyncConnection) -> tuple[int, int]:
    """Forget old scan sessions (their claims with them: the codes are long dead), and the nonces claimed
    in ``qr_nonces`` before migration 0020 once dead."""
    now = utcnow()
    nonces = await conn.execute(qr_nonces.delete().where(qr_nonces.c.keep_until < now))
    sessions = await conn.execute(scan_sessions.delete().where(scan_sessions.c.expires_at < now - SESSION_KEPT))
    return nonces.rowcount, sessions.rowcount
