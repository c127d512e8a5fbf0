"""The Ray boundary: the only package that imports ray.

Everything seedcore asks of a Ray cluster passes through here: the one connect() (the only
ray.init), the probes that answer before ray.init would hang, liveness verdicts and deadlines,
token and TLS settings, the State API's HTTP client, the GCS's job table, Ray's private API
(ray_compat, under contract tests), and the `Cluster` interface that the organism and diagnose
code call. Ray's exceptions are turned into seedcore's errors here and nowhere else.
"""
