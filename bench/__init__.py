"""Benchmarks: each module's ``run(settings)`` returns result rows measured beside a baseline in the same run."""
