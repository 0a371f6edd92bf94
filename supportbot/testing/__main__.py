"""`python -m supportbot.testing`: run the fake OpenAI-compatible server."""

from .fake_openai import main

main()
