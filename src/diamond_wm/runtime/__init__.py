"""Process-level concerns shared by every command: devices, seeding, logging."""
