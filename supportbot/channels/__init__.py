"""Channels: where customers reach a bot besides our own API (ARCHITECTURE.md, "Adding a
channel"). A channel module turns its platform's events into turns and lifecycle moves
(`base.py`), and its replies into calls sent through the outbox (`sender.py`)."""
