"""SeedCore's actor names, for the modules that only need names (no actor classes, no ray).

- SINGLETONS: the cluster-wide singleton actors, name -> class name (`singletons` defines the
  classes and checks it agrees).
- SEEDCORE_NAMES: globs that match SeedCore's names whatever the config: the singletons, organs
  named like SeedCore's (`*_organ_*`) and agents of the `organ_types` format (`*_agent_*`).
  Agents of SeedCore's `organs[]` format are `{organ_id}_{specialization}_{i}` (`x_generalist_0`)
  and organ ids are free, so no glob catches them all without catching everyone's actors: the
  config names them (`organism.config.seedcore_names()`: these globs plus the config's names).
"""

from __future__ import annotations

SINGLETONS: dict[str, str] = {"miss_tracker": "MissTracker", "shared_cache": "SharedCache", "mw": "MwStore"}
SEEDCORE_NAMES: tuple[str, ...] = (*SINGLETONS, "*_organ_*", "*_agent_*")
