"""Intake: 24-hour lead intake with reporter protection."""
