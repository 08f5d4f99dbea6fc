"""Small linear systems for the synthesis and backend tests (history systems of toy training dynamics)."""
from __future__ import annotations

import numpy as np

from qdsl.synthesis.common import linear_system_from_transfers


def cubic_system(T=3, u0=0.4):
    """One parameter, u ← u − η(u + 0.5u² + 0.2u³), Carleman order 3 (D = 4)."""
    eta = 0.3
    g = np.array([0.0, 1 - eta, -eta * 0.5, -eta * 0.2])
    M = np.zeros((4, 4))
    M[0, 0] = 1
    P = np.array([1.0])
    for j in range(1, 4):
        P = np.convolve(P, g)
        M[j, :4] = P[:4]
    return linear_system_from_transfers([M] * T, np.array([1, u0, u0 ** 2, u0 ** 3]))


def ridge_system(T=6):
    """Ridge regression, n = 2, Carleman order 1 (D = 3), full-batch gd."""
    X = np.array([[1.0, 0.2], [0.3, 1.0], [0.5, 0.5]])
    y = np.array([1.0, 0.0, 0.4])
    H = 2 * X.T @ X / 3 + 0.5 * np.eye(2)
    M = np.zeros((3, 3))
    M[0, 0] = 1
    M[1:, 0] = 0.2 * 2 * X.T @ y / 3
    M[1:, 1:] = np.eye(2) - 0.2 * H
    return linear_system_from_transfers([M] * T, np.r_[1.0, 0.8, -0.5])


def scalar_system(T=1, a=0.7, b=0.1, u0=0.5):
    """u ← a·u + b, order 1 (D = 2): the smallest history system (4×4)."""
    M = np.array([[1.0, 0.0], [b, a]])
    return linear_system_from_transfers([M] * T, np.array([1.0, u0]))
