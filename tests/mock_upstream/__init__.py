"""A mock upstream that speaks each provider's real wire format over real HTTP (the suite's only stand-in)."""
