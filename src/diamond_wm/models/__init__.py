"""Neural networks of DIAMOND: EDM denoiser + sampler, reward/termination model, actor-critic, checkpoints.

Modules: blocks, unet, inner_model, denoiser, sampler, rew_end_model, actor_critic, lambda_returns,
actor_critic_loss, agent, checkpoint. Nothing here imports environments or data loaders.
"""
