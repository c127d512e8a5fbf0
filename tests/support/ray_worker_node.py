"""`ray start` for a worker node on loopback: run with a Ray-only environment's python, with the
arguments of `ray start` (`--address=127.0.0.1:PORT --block ...`).

Why not plain `ray start --address`: on Linux, Ray keeps a node on 127.0.0.1 only when
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 is set (otherwise it rewrites 127.0.0.1 to the machine's
network IP, which our loopback head does not listen on), and with that variable set `ray start`
refuses every non-head node ("Multi-node Ray clusters are not supported on Windows and OSX").
The refusal is one check in `ray start` that reads `ray_constants.ENABLE_RAY_CLUSTER`; the address
handling reads the same constant through `services` and must keep seeing it off. So only the
`ray start` command module gets a copy of the constants with the check lifted; everything else
(the node's processes, its addresses, SIGTERM draining the node) is Ray's own `ray start --block`.
"""

from __future__ import annotations

import sys
import types

import ray._private.ray_constants as ray_constants
from ray.scripts import scripts

lifted = types.ModuleType(ray_constants.__name__)
lifted.__dict__.update(ray_constants.__dict__)
lifted.ENABLE_RAY_CLUSTER = True
scripts.ray_constants = lifted

if __name__ == "__main__":
    sys.argv[0] = "ray"
    sys.exit(scripts.main())
