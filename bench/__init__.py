"""Benchmarks against the emulator with latency and rate limits (`make bench`)."""
