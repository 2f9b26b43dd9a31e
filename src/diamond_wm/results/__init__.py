"""Atari 100k results the way the field reports them: final scores of finished runs, human-normalised scores,
rliable aggregates with stratified-bootstrap confidence intervals, plots, and the paper's own scores beside them.

- `games`: the 26 games of Atari 100k and their Gymnasium ids.
- `scores`: the paper's final returns and the human and random scores (package data, with their citation).
- `collect`: final scores of finished run folders, `diamond eval` reports and DIAMOND.json-shaped files.
- `aggregate`: IQM, mean, median, optimality gap (point estimates in numpy; CIs through rliable).
- `report`, `plots`: the table printed by `diamond results`, its JSON and PNG files.

Only `games` and `scores` import nothing beyond the standard library; the statistics need the `eval` extra
(`pip install 'diamond-wm[eval]'`: rliable, matplotlib).
"""
