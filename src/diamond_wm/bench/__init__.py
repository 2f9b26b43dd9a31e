"""`diamond bench`: timings of the paper's workloads (training steps, imagination, play, real env step).

Modules: timing (medians after warm-up, peak RSS), flops (FLOP counts, measured matmul peak), workloads (the
workloads, built on the project's real code paths), psnr (bf16 vs float32 imagined frames), report (table, JSON),
runner (puts them together).
"""
