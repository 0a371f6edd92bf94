"""The HTTP routes, one router per audience. Routes talk only to the service (deps.Service)."""

from . import agent, customer, operations, pages

__all__ = ["agent", "customer", "operations", "pages"]
