"""The customer portal page (web/) at `/` of the local gateway, with the headers CloudFront adds in AWS.

In AWS the three files are served from S3 behind CloudFront, which adds the security headers below; locally
the gateway serves them itself, so the page runs under the same Content-Security-Policy (no inline script or
style, API calls to the same origin only) and a CSP mistake shows up on a laptop, not in production.

The files are read from the repository's `web/` folder on each request (as STANDARD_POLICY is found from
arcollect/local/system.py): `make install` installs the project editable, so this module sits in the checkout
beside `web/`, and an edited page shows on the next reload without restarting `arcollect local`. They are not
package data because no Lambda bundle needs them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from arcollect.local.gateway import LocalGateway, LocalRoute

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# path -> (file in web/, content type, Cache-Control). The page itself is never cached: it is where a sign-in
# link lands, and a stale copy would run against a newer API.
PAGE_FILES: Mapping[str, tuple[str, str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8", "no-store"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8", "no-cache"),
    "/app.css": ("app.css", "text/css; charset=utf-8", "no-cache"),
}


def page_file(path: str, web_root: Path = WEB_ROOT) -> tuple[Path, str, str]:
    """The file behind `path`, its content type and its caching rule."""
    name, content_type, cache_control = PAGE_FILES[path]
    return web_root / name, content_type, cache_control


def _route(path: str, web_root: Path) -> LocalRoute:
    def serve(request: Request) -> Response:
        file, content_type, cache_control = page_file(path, web_root)
        response = Response(file.read_bytes(), content_type=content_type)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = cache_control
        if cache_control != "no-store":
            response.add_etag()
            response.make_conditional(request)
        return response

    return serve


def install_portal_page(gateway: LocalGateway, web_root: Path = WEB_ROOT) -> None:
    """Serve the portal page at `/` (replacing the gateway's index of local links), `/app.js` and `/app.css`,
    for GET and HEAD (werkzeug sends no body for HEAD)."""
    for path in PAGE_FILES:
        route = _route(path, web_root)
        for method in ("GET", "HEAD"):
            gateway.add_route(method, path, route)
