"""The SNS-side URLs of notifications: SubscribeURL, UnsubscribeURL and SigningCertURL.

Answers are SNS's own XML (``ConfirmSubscriptionResponse``, ``UnsubscribeResponse``,
``ErrorResponse``), so code written against SNS reads them unchanged. None of these routes
takes SigV4: the token, the MAC in the unsubscribe link, and the public certificate are
what they are about.
"""

from __future__ import annotations

import time
import uuid
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.errors import to_response
from catalog_ingest.notify import documents, subscriptions
from catalog_ingest.runtime import Runtime
from catalog_ingest.storage import notifications as repo

_NS = "http://sns.amazonaws.com/doc/2010-03-31/"
_XML = "text/xml"


def _metadata() -> str:
    return f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"


def _error(status: int, kind: str, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{_NS}"><Error>'
            f"<Type>{kind}</Type><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>\n")
    return Response(body, status, media_type=_XML)


def _confirm(svc: Runtime, token: str) -> Response:
    if not token:
        return _error(400, "Sender", "InvalidParameter", "Invalid parameter: Token")
    with svc.db.write() as conn:
        sub = subscriptions.confirm(conn, token, time.time())
    if sub is None:
        return _error(404, "Sender", "NotFound", "Subscription not found: invalid token")
    arn = documents.subscription_arn(svc.settings, sub.retailer_id, sub.subscription_id)
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ConfirmSubscriptionResponse xmlns="{_NS}">'
            f"<ConfirmSubscriptionResult><SubscriptionArn>{escape(arn)}</SubscriptionArn>"
            f"</ConfirmSubscriptionResult>{_metadata()}</ConfirmSubscriptionResponse>\n")
    return Response(body, 200, media_type=_XML)


def _unsubscribe(svc: Runtime, subscription_id: str, signature: str) -> Response:
    if not subscription_id or not signature:
        return _error(400, "Sender", "InvalidParameter", "Invalid parameter: subscription")
    if not documents.unsubscribe_signature_ok(svc.settings.secret_key, subscription_id,
                                              signature):
        return _error(403, "Sender", "AuthorizationError",
                      "The unsubscribe link is not valid")
    with svc.db.write() as conn:
        if repo.get_subscription(conn, subscription_id) is None:
            return _error(404, "Sender", "NotFound", "Subscription does not exist")
        subscriptions.unsubscribe(conn, subscription_id, time.time())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<UnsubscribeResponse xmlns="{_NS}">'
            f"{_metadata()}</UnsubscribeResponse>\n")
    return Response(body, 200, media_type=_XML)


def _certificate(svc: Runtime) -> Response:
    key = documents.signing_key(svc.db, svc.settings.secret_key)
    return Response(key.certificate_pem, 200, media_type="application/x-pem-file")


def routes(svc: Runtime) -> list[Route]:
    async def confirm(request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            return await run_in_threadpool(_confirm, svc, token)
        except Exception as exc:
            return to_response(exc)

    async def unsubscribe(request: Request) -> Response:
        params = request.query_params
        try:
            return await run_in_threadpool(_unsubscribe, svc, params.get("subscription", ""),
                                           params.get("signature", ""))
        except Exception as exc:
            return to_response(exc)

    async def certificate(_: Request) -> Response:
        try:
            return await run_in_threadpool(_certificate, svc)
        except Exception as exc:
            return to_response(exc)

    return [
        Route(documents.CONFIRM_PATH, confirm, methods=["GET"]),
        Route(documents.UNSUBSCRIBE_PATH, unsubscribe, methods=["GET"]),
        Route(documents.CERT_PATH, certificate, methods=["GET"]),
    ]
