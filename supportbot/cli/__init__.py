"""The `supportbot` command line: one module per group of commands.

main.py         the app: validate, schema, init, chat (and the commands below)
serve.py        supportbot serve
evaluate.py     supportbot eval
transcripts.py  supportbot replay, record, coverage
chat.py         the terminal conversation behind `chat`
scaffold.py     the files `init` writes
common.py       output, exit codes, loading a bot or exiting
"""

from .main import app, main

__all__ = ["app", "main"]
