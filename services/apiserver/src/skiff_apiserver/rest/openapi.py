"""/openapi/v2 and /openapi/v3: enough for kubectl, not yet a schema.

kubectl fetches the OpenAPI documents for `apply` (patch metadata), client-side validation and `explain`.
When a kind is absent from them it falls back to the patch metadata compiled into it for the built-in
kinds, which are the ones Skiff serves; so an empty but well-formed document keeps apply, create and
validation working (validation is the server's: kubectl sends fieldValidation=Strict). v2 is asked for as
protobuf (gnostic's openapi_v2.Document): an empty body is the valid encoding of an empty document.
`kubectl explain` needs real schemas and is not served yet.
"""

from __future__ import annotations

from aiohttp import web
from skiff_apiserver.rest.discovery import version_info
from skiff_apiserver.rest.status import json_response


async def get_v2(request: web.Request) -> web.Response:
    if "protobuf" in request.headers.get("Accept", ""):
        return web.Response(body=b"", headers={"Content-Type": "application/octet-stream"})
    info = {"title": "Skiff", "version": version_info()["gitVersion"]}
    return json_response({"swagger": "2.0", "info": info, "paths": {}, "definitions": {}})


async def get_v3(request: web.Request) -> web.Response:
    return json_response({"paths": {}})
