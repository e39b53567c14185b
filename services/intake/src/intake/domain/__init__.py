"""Intake's decisions: what a report, a supplement, a disclosure or a shredding records."""
