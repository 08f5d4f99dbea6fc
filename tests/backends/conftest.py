"""Fixtures for the backend tests: small HHL programs built once per session."""
from __future__ import annotations

import pytest

from linear_systems import cubic_system, scalar_system


@pytest.fixture(scope="session")
def cubic_program():
    from qdsl.synthesis.hhl import synthesize_hhl

    return synthesize_hhl(cubic_system(), clock=6, variant="oracle")


@pytest.fixture(scope="session")
def cubic_qasm(cubic_program):
    from qdsl.backends.qasm3 import emit_with_info

    return emit_with_info(cubic_program)


@pytest.fixture(scope="session")
def scalar_program():
    from qdsl.synthesis.hhl import synthesize_hhl

    return synthesize_hhl(scalar_system(), clock=3, variant="oracle")
