"""Where the organism runs: per node, its actors and what they asked Ray for. No ray here.

- `NodeLoad`: one node (id, IP, label, alive, head), the organism's actors on it, and the sum of
  what they asked Ray for (their State API `required_resources`, by Ray's resource names).
- `summarize(placed, nodes) -> list[NodeLoad]`: `placed` holds (name, node_id,
  required_resources or None) per actor. Every alive node is listed, empty ones too (a 0-CPU head
  shows that nothing landed there), then any dead node an actor still names (a restarting
  actor's last node), then one row with node_id "" for the actors Ray has not placed (pending).
  `resources` is None on a node when the State API did not say what some actor there asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from seedcore_cli.organism.model import NodeInfo

NOT_PLACED = "(not placed)"


@dataclass
class NodeLoad:
    node_id: str  # "" for the actors not placed on any node
    node_ip: str
    node: str  # the label tables show: "IP (short id, head)"
    alive: bool
    is_head: bool
    actors: list[str] = field(default_factory=list)
    resources: dict[str, float] | None = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"node_id": self.node_id, "node_ip": self.node_ip, "node": self.node, "alive": self.alive,
                "is_head": self.is_head, "actor_count": len(self.actors), "actors": list(self.actors),
                "resources": None if self.resources is None else dict(self.resources)}


def summarize(placed: Iterable[tuple[str, str, Mapping[str, float] | None]],
              nodes: Mapping[str, NodeInfo]) -> list[NodeLoad]:
    loads = {node_id: _load(node_id, info) for node_id, info in nodes.items() if info.alive}
    for name, node_id, resources in placed:
        node_id = node_id or ""
        if node_id not in loads:
            info = nodes.get(node_id)
            loads[node_id] = _load(node_id, info) if info else NodeLoad(
                node_id, "", NOT_PLACED if not node_id else node_id[:8], alive=False, is_head=False)
        load = loads[node_id]
        load.actors.append(name)
        if resources is None or load.resources is None:
            load.resources = None
            continue
        for resource, amount in resources.items():
            load.resources[resource] = round(load.resources.get(resource, 0) + amount, 4)
    order = {node_id: index for index, node_id in enumerate(loads)}
    # alive nodes first (the head first among them), then dead ones, then the actors not placed
    return sorted(loads.values(), key=lambda load: (not load.node_id, not load.alive, not load.is_head,
                                                    order[load.node_id]))


def _load(node_id: str, info: NodeInfo) -> NodeLoad:
    return NodeLoad(node_id, info.ip, info.label, info.alive, info.is_head)
