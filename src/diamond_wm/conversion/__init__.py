"""Conversion of recorded play into datasets, below the applications: the published CS:GO recordings
(`csgo_convert`, reading `csgo_hdf5` files found by `csgo_sources`), the staged writing of a dataset folder
(`staging`), frame resizing, signal handling, small synthetic inputs and the conversion's rate (`measure`). The
dataset tools (`diamond dataset`) run it and `diamond bench` measures it, neither importing the other."""
