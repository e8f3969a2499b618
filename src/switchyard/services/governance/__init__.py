"""Governance of inference: rate limits, budgets, usage records, carbon, QoS and metrics."""
