"""The inference front doors (``/v1``), served as raw ASGI handlers ahead of the FastAPI app.

Measured on this machine (DESIGN.md), Starlette's routing and response classes cost 25–30 % of non-streaming
and 45–50 % of streaming throughput; these routes are the hot path, so they read and write ASGI messages
directly. The FastAPI app keeps the management API and the OpenAPI document.
"""
