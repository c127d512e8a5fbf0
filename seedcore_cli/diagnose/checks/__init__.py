"""One module per check, registered in run order by registry.load()."""
