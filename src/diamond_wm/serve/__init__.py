"""`diamond serve`: play a world model in a web browser, several players at once.

- `host.py`: what the server asks of the games (`PlayerGame`, `GameHost`); `fake_game.py`: a tiny built-in game.
- `protocol.py`: the messages over the WebSocket (JSON control messages, binary frames) and their checks.
- `frames.py`: frame encoding; `players.py`: one connected player's state; `server.py`: the tick loop.
- `security.py`, `app.py`: the web application (page, WebSocket, stats); `run.py`: uvicorn, signals, the URL.
"""
