"""`python -m supportbot` is the `supportbot` command."""

from .cli import main

main()
