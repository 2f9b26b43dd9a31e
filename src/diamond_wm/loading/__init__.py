"""Loading what the applications play, evaluate and measure: an agent from a run folder, a checkpoint file or a
published model (`agent`, with the networks of `agent_config`), the CS:GO world model (`csgo`), and the recorded
play a static-dataset run trained on (`static_run`). Below the applications, beside training (it reads run
folders), so that `diamond play` and `diamond eval` share it without importing each other."""
