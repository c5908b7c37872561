"""Optional captcha (hCaptcha or Cloudflare Turnstile), verified server-side when configured."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web

from models.errors import BadRequest, Unavailable
from models.i18n import N_
from web.clientip import client_ip
from web.keys import SETTINGS
from web.oauth import HTTP

log = logging.getLogger(__name__)

VERIFY_URLS = {
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
}
TIMEOUT = aiohttp.ClientTimeout(total=5)


def captcha_failed() -> BadRequest:
    return BadRequest(N_("The captcha was not solved. Please try again."), code="captcha_failed")


async def require_captcha(request: web.Request, token: str | None) -> None:
    """Pass if no captcha is configured or the provider confirms `token`; else 400."""
    config = request.app[SETTINGS].captcha
    if config.provider == "none":
        return
    if not token or config.secret is None:
        raise captcha_failed()
    url = config.verify_url or VERIFY_URLS[config.provider]
    form = {"secret": config.secret.get_secret_value(), "response": token}
    if ip := client_ip(request):
        form["remoteip"] = ip
    try:
        async with request.app[HTTP].post(url, data=form, timeout=TIMEOUT) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("captcha verification at %s failed: %r", url, exc)
        raise Unavailable() from exc
    if not isinstance(answer, dict) or answer.get("success") is not True:
        raise captcha_failed()
