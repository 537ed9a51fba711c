"""Which paths belong to which family of routes, and so how each is authorised: the CDK API construct and the
local gateway both read this, so the deployed API and `arcollect local` protect the same paths the same way.

- public: anyone (the routes check what they need themselves: a link token, a Stripe signature);
- customer: a session token, checked by the portal authorizer before the API function runs;
- staff: AWS IAM (SigV4) in AWS; locally, only callers on this machine.
"""

from __future__ import annotations

CUSTOMER_PREFIX = "/portal/"
PUBLIC_PORTAL_PATHS = ("/portal/session", "/portal/links")
STAFF_PREFIX = "/staff"


def is_staff_path(path: str) -> bool:
    return path == STAFF_PREFIX or path.startswith(STAFF_PREFIX + "/")


def is_customer_path(path: str) -> bool:
    """A path the authorizer guards: under /portal/ and not one of the public portal routes."""
    return path.startswith(CUSTOMER_PREFIX) and path.rstrip("/") not in PUBLIC_PORTAL_PATHS
