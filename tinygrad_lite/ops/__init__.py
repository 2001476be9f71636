"""Differentiable primitives, one module per family, and their functional front ends."""
