"""The SeedCore organism on Ray: organs and agents as detached named actors.

- `config`   the organism config: loading, both accepted formats (no ray import; the CLI uses it
             while parsing); `schema` validates them, `yamldoc` reads YAML with lines
- `options`  each actor's Ray options: keys, precedence (config > env > built-in), their sources
- `capacity` whether the organism fits on the cluster: the arithmetic (no ray import)
- `base`     the Ray-free half: SeedcoreActor (the marker), probe(), ActorSpec, ActorReport
- `actors`   the Organ and Agent actor classes (plain classes, wrapped with ray.remote lazily)
- `actorutil` look-ups, probing, nodes and what they offer, the State REST API: shared with
             `singletons`
- `creation` get-or-create (ensure), race-safe; what died is reported repaired
- `manager`  OrganismManager(connection, config): initialize(), plan_teardown(), teardown()
- `status`   collect(connection, config, timeout) -> OrganismStatus, for `organism status` and
             `diagnose`
- `placement` per node, the organism's actors and what they asked for (no ray import)

Importing this package imports nothing Ray-bound, nor do `config`, `schema`, `yamldoc`, `options`,
`capacity`, `placement` and `base`; `actors`, `actorutil`, `creation`, `manager` and `status`
import ray and are imported by commands only after connect().
"""
