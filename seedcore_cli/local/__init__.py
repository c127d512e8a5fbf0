"""seedcore's embedded loopback head: start, stop and status of one `ray start --head --block`
process that seedcore owns, and its state file (which pid, which ports)."""
