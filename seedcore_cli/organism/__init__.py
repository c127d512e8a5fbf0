"""The SeedCore organism on Ray: organs and agents as detached named actors, plus the singletons.

The layers, from the bottom: `model` (plain data: kinds, actions, states, specs, reports, nodes),
`config` / `schema` / `yamldoc` (the organism config and its two accepted formats), `options`
(each actor's Ray options and where each came from), `capacity` and `placement` (arithmetic over
what the cluster offers), `actors` (the code that runs inside the actors: the only module here
that uses ray, and only inside them), `singletons`, then the work: `creation` (get-or-create,
race-safe), `status` (the one health model) and `manager` (OrganismManager: bootstrap, status,
teardown), and `inventory` (the State API's actor listings).

Invariants: nothing here imports ray at import time, and nothing here talks to Ray except through
the `Cluster` interface (ray_boundary/cluster.py), which raises seedcore's errors only. Planning
and judging (`creation.classify`, `status.judge`, `manager.teardown_items`) are pure functions
over snapshots; the I/O is in `creation.find`, `status.gather` and the manager's methods.
"""
