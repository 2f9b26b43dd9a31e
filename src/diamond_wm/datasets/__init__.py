"""Datasets from recorded play: the published CS:GO recordings (`diamond_wm.conversion`), your own game's videos and
action logs (`video_import`), and `info`/`verify` of dataset folders. The `diamond dataset` command runs them."""
