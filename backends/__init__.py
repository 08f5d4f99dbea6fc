"""Backends: OpenQASM 3 emission, Qiskit simulation, resource estimation (import name qdsl.backends)."""
