"""The SNS-side URLs of notifications: SubscribeURL, UnsubscribeURL and SigningCertURL.

Answers are SNS's own XML (``ConfirmSubscriptionResponse``, ``UnsubscribeResponse``, and
``ErrorResponse`` from ``api.errors.render_sns``), so code written against SNS reads them
unchanged. None of these routes takes SigV4: the token, the MAC in the unsubscribe link, and
the public certificate are what they are about.
"""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog_ingest.api.errors import SNS_NS, XML_MEDIA_TYPE, render_sns
from catalog_ingest.notify import documents, subscriptions
from catalog_ingest.runtime import Runtime


def _metadata() -> str:
    return f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"


def _confirmed(arn: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ConfirmSubscriptionResponse '
            f'xmlns="{SNS_NS}"><ConfirmSubscriptionResult><SubscriptionArn>{escape(arn)}'
            f"</SubscriptionArn></ConfirmSubscriptionResult>{_metadata()}"
            f"</ConfirmSubscriptionResponse>\n")
    return Response(body, 200, media_type=XML_MEDIA_TYPE)


def _unsubscribed() -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<UnsubscribeResponse xmlns="{SNS_NS}">'
            f"{_metadata()}</UnsubscribeResponse>\n")
    return Response(body, 200, media_type=XML_MEDIA_TYPE)


def routes(svc: Runtime) -> list[Route]:
    async def confirm(request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            arn = await run_in_threadpool(subscriptions.confirm_by_token, svc, token)
        except Exception as exc:
            return render_sns(exc)
        return _confirmed(arn)

    async def unsubscribe(request: Request) -> Response:
        params = request.query_params
        try:
            await run_in_threadpool(subscriptions.unsubscribe_by_link, svc,
                                    params.get("subscription", ""), params.get("signature", ""))
        except Exception as exc:
            return render_sns(exc)
        return _unsubscribed()

    async def certificate(_: Request) -> Response:
        try:
            pem = await run_in_threadpool(subscriptions.signing_certificate, svc)
        except Exception as exc:
            return render_sns(exc)
        return Response(pem, 200, media_type="application/x-pem-file")

    return [
        Route(documents.CONFIRM_PATH, confirm, methods=["GET"]),
        Route(documents.UNSUBSCRIBE_PATH, unsubscribe, methods=["GET"]),
        Route(documents.CERT_PATH, certificate, methods=["GET"]),
    ]
