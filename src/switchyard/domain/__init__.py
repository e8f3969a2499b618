"""Domain objects: what services hand to the HTTP layer and the CLI. Plain frozen dataclasses, no I/O."""
