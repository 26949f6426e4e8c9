"""Emulated comms hub and meters that run firmware_model unchanged."""
