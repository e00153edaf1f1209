"""The app factory and the whole URL map."""
from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Iterable

import orjson
import tornado.web
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers import (
    auth,
    cards,
    funds,
    hardship,
    health,
    invites,
    me,
    members,
    merchant,
    merchant_quotes,
    notices,
    orgs,
    partners,
    public,
    relief,
    relief_apply,
    relief_archive,
    relief_notices,
    relief_payments,
    relief_review,
    relief_stats,
    settlement,
    staff_admin,
    staff_auth,
    transfers,
)
from handlers import console as console_pages
from handlers.base import NotFoundHandler, check_declarations
from handlers.schemas import SCHEMAS
from models.partners.programmes import ProgramCache
from server import console, db
from server.attachments import AttachmentStore
from server.audit_checkpoints import CheckpointLog, load_checkpoints
from server.config import Config
from server.crypto import Keyring, PiiCipher, load_keyring
from server.openapi import build_document
from server.passwords import ARGON2
from server.qr_tokens import QrSigner, load_signer
from server.wechat import WeChatGateway

access_log = logging.getLogger("unionaid.access")

ROUTES: list[tuple[Any, ...]] = [
    *health.routes,
    *auth.routes,
    *me.routes,
    *notices.routes,
    *staff_auth.routes,
    *orgs.routes,
    *staff_admin.routes,
    *members.routes,
    *transfers.routes,
    *hardship.routes,
    *cards.routes,
    *merchant.routes,
    *merchant_quotes.routes,
    *partners.routes,
    *invites.routes,
    *settlement.routes,
    *relief.routes,
    *relief_apply.routes,
    *relief_review.routes,
    *relief_notices.routes,
    *public.routes,
    *relief_payments.routes,
    *funds.routes,
    *relief_archive.routes,
    *relief_stats.routes,
    # The staff console's pages (HTML, cookie session): not in the API document.
    *console_pages.routes,
]


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """One structured JSON line per request; no bodies, no query strings, no tokens."""
    status = handler.get_status()
    level = logging.INFO if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return
    record = {
        "request_id": getattr(handler, "request_id", None),
        "method": handler.request.method,
        "path": handler.request.path,
        "status": status,
        "ms": round(1000.0 * handler.request.request_time(), 1),
        "ip": handler.request.remote_ip,
    }
    principal = getattr(handler, "principal", None)
    if principal:
        record["principal"] = f"{principal[0]}:{principal[1]}"
    access_log.log(level, orjson.dumps(record).decode())  # a line for every request: the cheaper encoder


def make_app(
    config: Config,
    engine: AsyncEngine,
    *,
    gateway: WeChatGateway,
    keyring: Keyring | None = None,
    signer: QrSigner | None = None,
    checkpoints: CheckpointLog | None = None,
    executor: Executor | None = None,
    extra_routes: Iterable[tuple[Any, ...]] = (),
) -> tornado.web.Application:
    """Build the Tornado application; everything a handler needs is in its settings.

    ``executor`` is the one bounded pool for CPU-bound work off the event loop (exports,
    imports, images); by default one of ``config.cpu_workers`` threads.
    """
    keyring = keyring or load_keyring(config)
    executor = executor or ThreadPoolExecutor(max_workers=config.cpu_workers, thread_name_prefix="unionaid-cpu")
    signer = signer or load_signer(config.data_dir, key=config.qr_key, key_id=config.qr_key_id)
    checkpoints = checkpoints or load_checkpoints(config.data_dir, key=config.audit_key, key_id=config.audit_key_id)
    routes = [*ROUTES, *extra_routes]
    check_declarations(routes)  # a route without an access declaration never serves
    return tornado.web.Application(
        routes,
        config=config,
        engine=engine,
        gateway=gateway,
        templates=config.notice_templates(),
        cipher=PiiCipher(keyring),
        keyring=keyring,
        attachments=AttachmentStore.from_config(config, keyring),
        signer=signer,
        audit_checkpoints=checkpoints,
        passwords=ARGON2,
        executor=executor,
        # Reference data cached in this process, checked against the stamp each request reads (models/core/stamps.py).
        program_cache=ProgramCache(),
        # Reads that need no transaction (the counter's QR code) on autocommit connections: no ROLLBACK.
        autocommit_engine=db.autocommit_twin(engine, config),
        openapi=build_document(routes, SCHEMAS),
        default_handler_class=NotFoundHandler,
        log_function=_log_request,
        compress_response=False,
        serve_traceback=False,
        debug=False,
        **console.app_settings(config, keyring),
    )
