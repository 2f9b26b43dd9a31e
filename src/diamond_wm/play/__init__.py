"""`diamond play`: play or watch the policy in the world model or the real game, record, browse datasets.

`session.py` holds the logic (no drawing, testable headless), `window.py` the pygame window, `launch.py` the
set-up from a run folder, a checkpoint or a published model.
"""
