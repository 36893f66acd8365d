"""Strategies: the contract (base), and the strategies shipped with the platform."""
