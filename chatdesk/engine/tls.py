"""One TLS context for every HTTP client the worker builds (worker only).

Why: each CrewAI provider LLM builds two httpx clients, and each httpx transport
loads the system's CA bundle into a fresh ``ssl.SSLContext``: ~20 ms apiece, ~40 ms
per reply, paid before the first token. The contexts are identical, and an
``SSLContext`` is safe to share between connections and threads, so the worker makes
each distinct one once and hands the same one out afterwards.

httpx (0.28) creates its contexts through ``httpx._transports.default.
create_ssl_context``; if that name ever moves, :func:`share_tls_contexts` leaves
httpx alone and every client simply loads its own bundle again (slower, still right).
Only contexts from plain settings (``verify`` a bool, no client certificate) are
shared; anything unusual is built as before.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chatdesk.engine.tls")

_install_lock = threading.Lock()


def share_tls_contexts() -> bool:
    """Make httpx reuse one context per (verify, trust_env); True if installed."""
    try:
        from httpx._transports import default as transports
    except ImportError:  # pragma: no cover - depends on httpx
        return False
    with _install_lock:
        current = getattr(transports, "create_ssl_context", None)
        if current is None or not callable(current):
            log.warning("httpx has no create_ssl_context; TLS contexts are not shared")
            return False
        if getattr(current, "chatdesk_shared", False):
            return True
        setattr(transports, "create_ssl_context", _sharing(current))  # noqa: B010
    return True


def _sharing(create: Callable[..., ssl.SSLContext]) -> Callable[..., ssl.SSLContext]:
    @functools.lru_cache(maxsize=4)
    def shared(verify: bool, trust_env: bool) -> ssl.SSLContext:
        return create(verify=verify, cert=None, trust_env=trust_env)

    def create_ssl_context(
        verify: Any = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if isinstance(verify, bool) and cert is None:
            return shared(verify, bool(trust_env))
        return create(verify=verify, cert=cert, trust_env=trust_env)

    create_ssl_context.chatdesk_shared = True  # type: ignore[attr-defined]
    return create_ssl_context


def warm_tls_context() -> None:
    """Load the CA bundle now (at worker start), not during the first reply."""
    try:
        from httpx._transports import default as transports

        getattr(transports, "create_ssl_context")()  # noqa: B009 - not exported by httpx
    except Exception as exc:  # pragma: no cover - a broken bundle shows on first use
        log.warning("could not load the TLS context ahead: %s", exc)
