"""The baseline for bootstrap on a multi-node cluster: what a Ray user would write by hand to bring
up the same organism: the three singletons, the organs and their agents as detached named actors
with SeedCore's options (0.01 CPU for singletons and organs, 0.02 for agents, restarts without
limit), all created at once, then waiting until every one answers.

    python bench/raw_bootstrap.py GCS_ADDRESS NAMESPACE ORGANS AGENTS_PER_ORGAN
    python bench/raw_bootstrap.py GCS_ADDRESS NAMESPACE --kill    # remove them (not timed)

Trivial classes stand in for seedcore's: the cost measured is Ray's (a worker process per actor),
not the classes' constructors.
"""

from __future__ import annotations

import sys

import ray


class Singleton:
    def ping(self) -> bool:
        return True


class Organ:
    def __init__(self, organ_id: str) -> None:
        self.organ_id = organ_id

    def ping(self) -> bool:
        return True


class Agent:
    def __init__(self, agent_id: str, organ_id: str) -> None:
        self.agent_id, self.organ_id = agent_id, organ_id

    def ping(self) -> bool:
        return True


def main() -> None:
    gcs, namespace = sys.argv[1], sys.argv[2]
    ray.init(address=gcs, namespace=namespace, log_to_driver=False, logging_level="ERROR")
    if sys.argv[3:] == ["--kill"]:
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry["namespace"] == namespace:
                ray.kill(ray.get_actor(entry["name"], namespace=namespace), no_restart=True)
        return
    organs, per_organ = int(sys.argv[3]), int(sys.argv[4])
    common = {"namespace": namespace, "lifetime": "detached", "max_restarts": -1}
    singleton, organ, agent = ray.remote(Singleton), ray.remote(Organ), ray.remote(Agent)  # each class once
    handles = [singleton.options(name=name, num_cpus=0.01, **common).remote()
               for name in ("miss_tracker", "shared_cache", "mw")]
    for index in range(organs):
        organ_id = f"organ_{index}"
        handles.append(organ.options(name=organ_id, num_cpus=0.01, **common).remote(organ_id))
        handles += [agent.options(name=f"{organ_id}_agent_{i}", num_cpus=0.02, **common).remote(
            f"{organ_id}_agent_{i}", organ_id) for i in range(per_organ)]
    ray.get([handle.ping.remote() for handle in handles], timeout=300)


if __name__ == "__main__":
    main()
