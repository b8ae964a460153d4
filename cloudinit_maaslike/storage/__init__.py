"""Disks: discover, validate, plan, then commit once (partitioning stage)."""
