"""`diamond play`: play or watch the policy in the world model or the real game, record, browse datasets.

The pygame front end only: `window.py` turns pygame events into the commands and named keys of
`diamond_wm.interactive` (which holds the sessions, recording and their set-up) and draws header and frame.
"""
