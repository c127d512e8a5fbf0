"""Will the organism fit on the cluster? The arithmetic of bootstrap's capacity check (no ray here).

In: what each actor asks (`Demand`: Ray resource name -> amount, and whether the actor exists
already) and what the cluster offers (`Offer`: totals, what is available now, each alive node's
totals; the manager reads them from Ray). Out: a `CapacityPlan`: per resource, what the organism
asks (every actor / the ones still to create) against what the cluster has (available / total),
and the shortfalls, one line each:

- in total: the actors still to create need more of a resource than is available now (actors that
  exist already hold theirs, so only the missing ones count against what is free);
- per actor: a request that fits on no single alive node (a resource no node offers, more than the
  biggest node has, or a combination no one node has).

The check is necessary, not sufficient: free capacity split across nodes can still leave an actor
pending, which bootstrap reports as not ready within its timeout.

- `plan(demands, offer) -> CapacityPlan`; `CapacityPlan.ok`, `.shortfalls`, `.resources`,
  `.to_dict()`; `InsufficientCapacity` (exit 1) carries the plan; `names_phrase(names)`.
- `why_pending(resources, offer)`: why Ray has not placed an actor yet (`organism status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from seedcore_cli.errors import OperationFailed, first_of
from seedcore_cli.organism.model import KIND_AGENT, KIND_ORGAN, KIND_SINGLETON, NodeInfo
from seedcore_cli.organism.options import format_amount, format_quantity

_ORDER = ("CPU", "GPU", "memory")
_KINDS = ((KIND_SINGLETON, "singletons"), (KIND_ORGAN, "organs"), (KIND_AGENT, "agents"))
_SHOWN_NAMES = 3


@dataclass(frozen=True)
class Demand:
    """One actor's request: Ray resource name -> amount (zero amounts left out)."""

    name: str
    kind: str
    resources: Mapping[str, float]
    exists: bool = False


@dataclass(frozen=True)
class Offer:
    """What the cluster has: in total, available now, and each alive node's totals."""

    total: Mapping[str, float]
    available: Mapping[str, float]
    nodes: tuple[Mapping[str, float], ...]


def offer_of(nodes: Mapping[str, NodeInfo], available: Mapping[str, float]) -> Offer:
    """What the cluster offers, from Ray's own accounts: each alive node's totals, their sum, and
    what is free now (`available`)."""
    alive = tuple(dict(info.resources) for info in nodes.values() if info.alive)
    total: dict[str, float] = {}
    for resources in alive:
        for name, amount in resources.items():
            total[name] = total.get(name, 0) + amount
    return Offer(total=total, available=dict(available), nodes=alive)


@dataclass(frozen=True)
class ResourceLine:
    resource: str
    asked: float  # by every actor of the organism
    to_create: float  # by the actors that do not exist yet
    available: float
    total: float

    @property
    def fits(self) -> bool:
        return _at_most(self.to_create, self.available)

    def to_dict(self) -> dict:
        return {"resource": self.resource, "asked": self.asked, "to_create": self.to_create,
                "available": self.available, "total": self.total, "fits": self.fits}


@dataclass(frozen=True)
class CapacityPlan:
    resources: tuple[ResourceLine, ...]
    shortfalls: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.shortfalls

    def to_dict(self) -> dict:
        return {"ok": self.ok, "shortfalls": list(self.shortfalls),
                "resources": [line.to_dict() for line in self.resources]}


class InsufficientCapacity(OperationFailed):
    """The organism does not fit on the cluster; nothing was created."""

    def __init__(self, plan: CapacityPlan) -> None:
        super().__init__("the organism does not fit on the cluster, nothing was created: "
                         + "; ".join(plan.shortfalls),
                         "ask for less in the organism config (defaults, organ_options, agent_options) "
                         "or add capacity; a dry run shows the whole plan")
        self.plan = plan


def plan(demands: Iterable[Demand], offer: Offer) -> CapacityPlan:
    demands = list(demands)
    missing = [demand for demand in demands if not demand.exists]
    names = {name for demand in demands for name in demand.resources}
    lines = tuple(ResourceLine(
        resource=name,
        asked=_sum(demand.resources.get(name, 0) for demand in demands),
        to_create=_sum(demand.resources.get(name, 0) for demand in missing),
        available=_sum([offer.available.get(name, 0)]),
        total=_sum([offer.total.get(name, 0)]),
    ) for name in sorted(names, key=_resource_order))
    offered = {name for node in offer.nodes for name, amount in node.items() if amount > 0}
    shortfalls = [_total_shortfall(line, missing) for line in lines
                  if not line.fits and line.resource in offered]
    return CapacityPlan(lines, tuple(shortfalls) + _unplaceable(missing, offer.nodes))


def _total_shortfall(line: ResourceLine, missing: list[Demand]) -> str:
    askers = [demand for demand in missing if demand.resources.get(line.resource)]
    offered = format_quantity(line.resource, line.available)
    in_use = "" if _at_most(line.total, line.available) else (
        f" (of {format_quantity(line.resource, line.total)}; the rest is in use)")
    return f"{_who(askers)} {_verb(askers)} {format_amount(line.resource, line.to_create)}, the cluster offers {offered}{in_use}"


def _misfits(resources: Mapping[str, float], nodes: tuple[Mapping[str, float], ...],
             biggest: Mapping[str, float]) -> list[tuple]:
    """Why a request fits on no single node, as keys ("absent", name), ("too big", name, amount) or
    ("combination", items); [] when some node can hold it."""
    if any(all(_at_most(amount, node.get(name, 0)) for name, amount in resources.items()) for node in nodes):
        return []
    absent = [name for name in resources if biggest[name] <= 0]
    too_big = [name for name in resources if name not in absent and not _at_most(resources[name], biggest[name])]
    return ([("absent", name) for name in absent] + [("too big", name, resources[name]) for name in too_big]
            or [("combination", tuple(sorted(resources.items(), key=lambda item: _resource_order(item[0]))))])


def _biggest(names: Iterable[str], nodes: tuple[Mapping[str, float], ...]) -> dict[str, float]:
    return {name: max((node.get(name, 0) for node in nodes), default=0) for name in names}


def why_pending(resources: Mapping[str, float], offer: Offer) -> str:
    """Why Ray has not placed an actor that asks `resources` (its State API `required_resources`):
    infeasible (no alive node could ever hold it: Ray waits for one that can), waiting for
    resources (not enough free now), or waiting to be placed (what it asks is free)."""
    biggest = _biggest(resources, offer.nodes)
    misfits = _misfits(resources, offer.nodes, biggest)
    if misfits:
        reasons = []
        for key in misfits:
            if key[0] == "absent":
                reasons.append(f"no node offers {key[1]}")
            elif key[0] == "too big":
                reasons.append(f"it asks {format_amount(key[1], key[2])}, the biggest node has "
                               f"{format_quantity(key[1], biggest[key[1]])}")
            else:
                reasons.append(f"no node has {' and '.join(format_amount(n, a) for n, a in key[1])}")
        return "infeasible: " + "; ".join(reasons)
    short = [name for name, amount in resources.items() if not _at_most(amount, offer.available.get(name, 0))]
    if short:
        return "waiting for resources: " + "; ".join(
            f"it asks {format_amount(name, resources[name])}, {format_quantity(name, offer.available.get(name, 0))} "
            f"free of {format_quantity(name, offer.total.get(name, 0))}" for name in short)
    return "waiting to be placed (what it asks is free; its worker may be starting)"


def _unplaceable(missing: list[Demand], nodes: tuple[Mapping[str, float], ...]) -> tuple[str, ...]:
    """One line per reason an actor fits on no single node, naming the actors it applies to."""
    biggest = _biggest({name for demand in missing for name in demand.resources}, nodes)
    groups: dict[tuple, list[str]] = {}
    for demand in missing:
        for key in _misfits(demand.resources, nodes, biggest):
            groups.setdefault(key, []).append(demand.name)
    lines = []
    for key, who in groups.items():
        if key[0] == "absent":
            lines.append(f"no node offers resource {key[1]} (wanted by {names_phrase(who)})")
        elif key[0] == "too big":
            _, name, amount = key
            each = " each" if len(who) > 1 else ""
            lines.append(f"{names_phrase(who)} {_verb(who)} {format_amount(name, amount)}{each}, "
                         f"the biggest node offers {format_quantity(name, biggest[name])}")
        else:
            wanted = " and ".join(format_amount(name, amount) for name, amount in key[1])
            lines.append(f"{names_phrase(who)} {_verb(who)} {wanted} on one node; no node offers all of that")
    return tuple(lines)


def _who(demands: list[Demand]) -> str:
    """'16 agents', '3 organs and 16 agents', '1 singleton, 3 organs and 16 agents'."""
    parts = []
    for kind, plural in _KINDS:
        count = sum(1 for demand in demands if demand.kind == kind)
        if count:
            parts.append(f"{count} {plural if count != 1 else plural[:-1]}")
    return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def names_phrase(names: list[str]) -> str:
    """'a, b, c and 4 more': a few names for a one-line message."""
    return first_of(names, _SHOWN_NAMES)


def _verb(items: list) -> str:
    return "need" if len(items) > 1 else "needs"


def _sum(amounts: Iterable[float]) -> float:
    """Ray counts in steps of 0.0001: round sums to that, so 0.1 + 0.2 is 0.3 (memory stays whole)."""
    total = round(sum(amounts), 4)
    return int(total) if total == int(total) else total


def _at_most(amount: float, limit: float) -> bool:
    return round(amount - limit, 4) <= 0


def _resource_order(name: str) -> tuple[int, str]:
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)
