"""What the tests share: the session's environment, loopback Ray heads (single and multi-node),
Ray-only virtual environments, TLS files, and helpers that look at the cluster with Ray's API."""
