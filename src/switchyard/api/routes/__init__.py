"""Every router of the HTTP API, in the order they are mounted."""

from fastapi import APIRouter

from switchyard.api.routes import health, organizations

ROUTERS: list[APIRouter] = [health.router, organizations.router]
