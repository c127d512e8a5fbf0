"""What the checks are given (Inputs) and what they learn and share along the way (Context)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedcore_cli.diagnose.model import CheckResult

if TYPE_CHECKING:  # nothing here imports ray
    from seedcore_cli.errors import SeedcoreError
    from seedcore_cli.ray_boundary.connection import Connection
    from seedcore_cli.ray_boundary.probe import Protocol
    from seedcore_cli.settings import Settings

DEFAULT_TIMEOUT_S = 2.0
NOT_RECORDED = "<not recorded>"


@dataclass
class Inputs:
    """What the caller knows: the flags as given, and what settings.resolve() and connect() did.

    loopback_env_before: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER as it was before connect() could set
    it for this process (None: unset); NOT_RECORDED when the caller did not capture it.
    """

    address: str | None = None
    namespace: str | None = None
    env_file: Path | None = None
    settings: Settings | None = None
    connection: Connection | None = None
    failure: SeedcoreError | None = None
    environ: Mapping[str, str] | None = None
    loopback_env_before: str | None = NOT_RECORDED
    timeout: float = DEFAULT_TIMEOUT_S
    organism_config: Path | None = None
    cwd: Path | None = None

    @property
    def env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ


@dataclass(frozen=True)
class RaySession:
    """A Ray connection held by this process, whoever made it.

    owner: 'seedcore' (connect() made it) or 'outside' (a ray.init elsewhere in the process).
    """

    kind: str  # 'driver' or 'client'
    namespace: str
    address: str
    owner: str
    client_contexts: int = 0  # Ray Client contexts open in this process (allow_multiple adds more)


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
    session: RaySession | None = None
    # The organism config (or why it is invalid), read once per run: organism_config().
    config_read: Any = None

    @property
    def settings(self) -> Settings | None:
        return self.inputs.settings

    @property
    def connection(self) -> Connection | None:
        return self.inputs.connection

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
