"""SeedCore's actor names, for the modules that only need names (no actor classes, no ray).

- SINGLETONS: the cluster-wide singleton actors, name -> class name (`singletons` defines the
  classes and checks it agrees).
- SEEDCORE_NAMES: globs that match every SeedCore actor name (singletons, organs, agents).
"""

from __future__ import annotations

SINGLETONS: dict[str, str] = {"miss_tracker": "MissTracker", "shared_cache": "SharedCache", "mw": "MwStore"}
SEEDCORE_NAMES: tuple[str, ...] = (*SINGLETONS, "*_organ_*", "*_agent_*")
