"""Install sources: fetch, verify and write what fills the target (extract stage)."""
