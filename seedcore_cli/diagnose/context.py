"""What the checks are given (Inputs: one connect() attempt, as the application made it, and the
run's options) and what they learn and share along the way (Context)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedcore_cli.diagnose.model import CheckResult

if TYPE_CHECKING:  # nothing here imports ray
    from seedcore_cli.errors import SeedcoreError
    from seedcore_cli.ray_boundary.auth import Token
    from seedcore_cli.ray_boundary.connection import ConnectAttempt, Connection, RaySession
    from seedcore_cli.ray_boundary.probe import Protocol, TlsFiles
    from seedcore_cli.settings import Settings

DEFAULT_TIMEOUT_S = 2.0
NOT_RECORDED = "<not recorded>"


@dataclass
class Inputs:
    """The connect() attempt the run reports on (settings, connection or failure, the user's
    environment) and the run's own options.

    environ: this process's environment as Ray sees it now (default: os.environ), for the
    checks that report on this process (the loopback switch); the user's own values come with
    the attempt (None: not recorded, a caller that did not capture them).
    """

    attempt: ConnectAttempt | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    organism_config: Path | None = None
    environ: Mapping[str, str] | None = None
    cwd: Path | None = None
    # settings resolved by the configuration check when the attempt has none (a library caller)
    resolved: Settings | None = None

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    @property
    def user_env(self) -> Mapping[str, str]:
        """The environment as the user set it (connect() may have changed this process's)."""
        recorded = self.attempt.user_environ if self.attempt is not None else None
        return self.env if recorded is None else recorded

    @property
    def loopback_env_before(self) -> str | None:
        """RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER as the user had it (None: unset), NOT_RECORDED when
        the caller did not capture the user's environment."""
        if self.attempt is None or self.attempt.user_environ is None:
            return NOT_RECORDED
        return self.attempt.user_environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")

    @property
    def settings(self) -> Settings | None:
        return self.resolved or (self.attempt.settings if self.attempt else None)

    @property
    def connection(self) -> Connection | None:
        return self.attempt.connection if self.attempt else None

    @property
    def failure(self) -> SeedcoreError | None:
        return self.attempt.failure if self.attempt else None

    @property
    def address(self) -> str | None:
        return self.attempt.address if self.attempt else None

    @property
    def namespace(self) -> str | None:
        return self.attempt.namespace if self.attempt else None

    @property
    def env_file(self) -> Path | None:
        return self.attempt.env_file if self.attempt else None

    def token(self) -> Token | None:
        """The token seedcore sends: the connection's, else the one Ray would find here."""
        from seedcore_cli.ray_boundary import auth

        if self.connection is not None and self.connection.token is not None:
            return self.connection.token
        return auth.find_token(self.user_env)

    def tls_files(self) -> TlsFiles | None:
        """The TLS files connect() settled, else the ones the user's environment names."""
        from seedcore_cli.ray_boundary import tls

        if self.connection is not None:
            return self.connection.tls_files
        return tls.files_from_env(self.user_env)


@dataclass
class Context:
    """Shared state for one run: inputs, earlier results, and facts later checks reuse."""

    inputs: Inputs
    results: dict[str, CheckResult] = field(default_factory=dict)
    env_file_values: dict[str, str] = field(default_factory=dict)
    # Where connect() goes (address check): mode 'driver'/'client'/'local', host, port.
    mode: str = ""
    host: str = ""
    port: int = 0
    origin: str = ""  # 'from RAY_ADDRESS', 'recorded in /tmp/ray/ray_current_cluster', ...
    # Reachability: the cluster's metadata (read from the GCS) and where the dashboard is.
    cluster_metadata: dict[str, Any] | None = None
    dashboard_url: str = ""
    dashboard_source: str = ""
    probe: Protocol | None = None  # what the target's port answered (its auth demand: probe.auth)
    session: RaySession | None = None  # the Ray connection this process holds (connection check)
    # The organism config (or why it is invalid), read once per run: organism_config().
    config_read: Any = None

    @property
    def settings(self) -> Settings | None:
        return self.inputs.settings

    @property
    def connection(self) -> Connection | None:
        return self.inputs.connection

    @property
    def live_connection(self) -> Connection:
        """The connection, for checks that need the `connection` check: the runner skips them
        when it failed, so it is there whenever they run."""
        assert self.inputs.connection is not None, "a check that needs the connection ran without one"
        return self.inputs.connection

    @property
    def resolved_settings(self) -> Settings:
        """The settings, for checks that need the `configuration` check (skipped when it failed)."""
        assert self.inputs.settings is not None, "a check that needs the configuration ran without it"
        return self.inputs.settings

    @property
    def timeout(self) -> float:
        return self.inputs.timeout

    def organism_config(self):
        """The organism config the run compares against, read once (checks 7 and 9 share it);
        raises its ConfigError every time when it is invalid."""
        if self.config_read is None:
            from seedcore_cli.errors import SeedcoreError
            from seedcore_cli.organism import config

            try:
                self.config_read = config.load(self.inputs.organism_config, self.inputs.env)
            except SeedcoreError as err:
                self.config_read = err
        if isinstance(self.config_read, Exception):
            raise self.config_read
        return self.config_read

    def status_of(self, check_id: str) -> str | None:
        result = self.results.get(check_id)
        return result.status if result else None
