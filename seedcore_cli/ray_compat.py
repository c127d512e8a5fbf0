"""The one home of Ray's private API in seedcore. Each entry names what it relies on; a contract
test (tests/test_ray_compat.py) fails loudly when a Ray upgrade changes it.

Public Ray API is used directly elsewhere; only what Ray does not expose publicly lives here.
"""

from __future__ import annotations


def reload_auth_config() -> None:
    """Re-read RAY_AUTH_MODE and the token in a process that imported ray before they were set.

    Ray caches its config (`ray._raylet.Config`) and the token (`AuthenticationTokenLoader`) at
    import; its own `_enable_token_auth` refreshes the first the same way.
    """
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
