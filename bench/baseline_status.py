"""The hand-written baseline for `seedcore organism status`: the same Ray calls, no tool.

Connect, find the namespace's named actors, ask each for its status at once, wait for all.
Usage: python bench/baseline_status.py GCS_ADDRESS NAMESPACE
"""

import sys

import ray

address, namespace = sys.argv[1], sys.argv[2]
ray.init(address=address, namespace=namespace, logging_level="ERROR", log_to_driver=False)
names = ray.util.list_named_actors()
handles = {name: ray.get_actor(name, namespace=namespace) for name in names}
refs = {name: handle.__ray_call__.remote(lambda self: type(self).__name__) for name, handle in handles.items()}
ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=5)
for name, ref in sorted(refs.items()):
    print(name, ray.get(ref) if ref in ready else "unresponsive")
