"""The gateway's use cases: resolve a model name to a route, order its providers, call them with failover."""
