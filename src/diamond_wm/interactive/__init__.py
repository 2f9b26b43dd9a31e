"""Interactive play without a front end: the commands and named keys a player sends, the play and dataset-browsing
sessions that act on them, recording, and building a session from a run, a checkpoint or a published model.

The pygame window (`diamond play`) and the web server (`diamond serve`) both translate their own input events into
these commands and key names; neither imports the other.
"""
