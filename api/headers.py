"""The security headers every API response carries (api/middleware.py adds them; the handler of unexpected
errors in api/errors.py sets them itself, as Starlette answers those outside every middleware)."""

from __future__ import annotations

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
