r"""Select-swap lookups (QROAM): Low, Kliuchnikov & Schaeffer, arXiv:1812.00954 (2018); Berry,
Gidney, Motta, McClean & Babbush, Quantum 3, 208 (2019), Appendix A / Fig. 1.

A lookup writes ``target ⊕= data[address]`` for L words of b bits (address < L; an address ≥ L
writes 0). Unary iteration (`lookup.UnaryIteration`) costs L − 1 Ands. QROAM trades qubits for
Toffolis: with a block size k = 2^κ (κ ≥ 1, k < L) the address splits into its low κ bits l and its
high bits h (G = ⌈L/k⌉ groups), and k registers R_0..R_{k−1} of b bits each are used:

* **select** X_h: unary iteration over the G groups; the leaf of group h XORs data[h·k + j] into
  R_j for every j (a CNOT per set bit);
* **swap** S_l: κ levels of controlled register swaps — level i swaps R_j and R_{j+2^i} under
  bit i of l, for j a multiple of 2^{i+1} — bringing R_l to R_0 (k − 1 register swaps of b
  Fredkins each, `swap.cswap_registers`); S_l† is the same swaps in reverse order.

* **clean** (R all |0⟩, returned |0⟩): X_h · S_l · CX(R_0 → target) · S_l† · X_h:
  2 selects, 2 swap networks, b CNOTs; qubits k·b clean.
* **dirty** (R in any state, restored): X_h · S_l · CX · S_l† · X_h · S_l · CX · S_l†:
  target ⊕= (g_l ⊕ d) ⊕ g_l = d; 2 selects, 4 swap networks, 2b CNOTs; qubits k·b dirty
  (Berry et al. Fig. 1c).

The select's trie work qubits (⌈log₂ G⌉) are clean in both variants. With a control qubit only the
selects are controlled (without it the registers hold nothing and the swaps undo themselves).

Cost (`QROAM.cost()`, from the same description as `build`): 2·select + (2 or 4)·(k − 1)·cswap(b)
+ (1 or 2)·b ``cx``, where select = the trie's cost + one ``cx`` per set data bit. T states
= 4·(Ands + Toffolis): 8(G − 1) + 8(k − 1)b for the clean variant, minimized near k ≈ √(L/b).
`qroam_cost_bound` is the same formula with every data bit set (symbolic sizes allowed), and
`choose_lookup` picks unary iteration or the QROAM block size with the fewest T states within a
qubit budget.
"""
from __future__ import annotations

from dataclasses import dataclass

from .cost import Cost
from .lookup import UnaryIteration, trie_cost, trie_nodes
from .swap import cswap_cost, cswap_registers

__all__ = ["QROAM", "qroam_cost_bound", "choose_lookup", "unary_lookup_cost", "lookup_qubits"]


def _ceil_log2(x: int) -> int:
    return max(0, (int(x) - 1).bit_length())


@dataclass(frozen=True)
class QROAM:
    """A select-swap lookup of `data` (ints < 2^bits) with block size k = 2^`log_block`."""

    data: tuple
    bits: int
    log_block: int
    dirty: bool = False

    def __init__(self, data, bits: int, log_block: int, dirty: bool = False):
        data = tuple(int(d) for d in data)
        L, k = len(data), 1 << int(log_block)
        if int(log_block) < 1 or k >= L:
            raise ValueError(f"QROAM block size 2^{log_block} must satisfy 2 ≤ k < L = {L}")
        if any(d < 0 or d >> int(bits) for d in data):
            raise ValueError(f"data words must fit in {bits} bits")
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "bits", int(bits))
        object.__setattr__(self, "log_block", int(log_block))
        object.__setattr__(self, "dirty", bool(dirty))

    @property
    def block(self) -> int:
        return 1 << self.log_block

    @property
    def groups(self) -> int:
        return -(-len(self.data) // self.block)

    @property
    def address_width(self) -> int:
        return max(_ceil_log2(len(self.data)), self.log_block + 1)

    def _select(self) -> UnaryIteration:
        return UnaryIteration(self.address_width - self.log_block, list(range(self.groups)),
                              domain=self.groups)

    @property
    def work(self) -> int:
        """Clean work qubits of the select's trie."""
        return self._select().work

    @property
    def registers(self) -> int:
        """Qubits of the k registers (clean or dirty by `dirty`)."""
        return self.block * self.bits

    def _word(self, h: int, j: int) -> int:
        i = h * self.block + j
        return self.data[i] if i < len(self.data) else 0

    def build(self, qc, ctrl, address, target, registers, work) -> None:
        """Append ``target ⊕= data[address]`` (`address[0]` least significant; `registers`: k·b
        qubits, clean or dirty by the variant; `work`: `self.work` clean qubits; `ctrl` a qubit
        or None)."""
        address, target, registers = list(address), list(target), list(registers)
        k, b = self.block, self.bits
        if len(address) != self.address_width or len(target) != b or len(registers) < k * b:
            raise ValueError("QROAM: register sizes do not match the lookup")
        R = [registers[j * b:(j + 1) * b] for j in range(k)]
        low, high = address[: self.log_block], address[self.log_block:]
        sel = self._select()

        def leaf(qc, q, item):
            h = item[0]
            for j in range(k):
                w = self._word(h, j)
                for bit in range(b):
                    if (w >> bit) & 1:
                        qc.cx(q, R[j][bit])

        def swaps(reverse=False):
            levels = range(self.log_block - 1, -1, -1) if reverse else range(self.log_block)
            for i in levels:
                step = 1 << i
                pairs = range(0, k, 2 * step)
                for j in (reversed(pairs) if reverse else pairs):
                    cswap_registers(qc, low[i], R[j], R[j + step])

        def copy():
            for bit in range(b):
                qc.cx(R[0][bit], target[bit])

        rounds = 2 if self.dirty else 1
        for r in range(rounds):
            if r == 0 or self.dirty:
                sel.build(qc, ctrl, high, work, leaf)
            swaps()
            copy()
            swaps(reverse=True)
            if r == 0 and not self.dirty:
                sel.build(qc, ctrl, high, work, leaf)

    def cost(self, controlled: bool = True) -> Cost:
        """Gate counts of `build` (module docstring), from the data alone."""
        sel = self._select()
        ones = sum(bin(self._word(h, j)).count("1") for h in range(self.groups) for j in range(self.block))
        select = sel.cost(controlled) + Cost(cx=ones)
        swap = (self.block - 1) * cswap_cost(self.bits)
        if self.dirty:
            return 2 * select + 4 * swap + Cost(cx=2 * self.bits)
        return 2 * select + 2 * swap + Cost(cx=self.bits)

    def qubits(self, controlled: bool = True) -> int:
        return self.address_width + self.bits + self.registers + self.work + int(controlled)


def unary_lookup_cost(L, bits, controlled: bool = True) -> Cost:
    """Unary iteration over L contiguous words, every data bit set (an upper bound on the CNOTs):
    the trie of `lookup` plus L·bits ``cx``."""
    L = int(L)
    a = max(1, _ceil_log2(L))
    return trie_cost(trie_nodes(list(range(L)), a, L), controlled) + Cost(cx=L * int(bits))


def qroam_cost_bound(L, bits, log_block, dirty: bool = False, controlled: bool = True) -> Cost:
    """`QROAM.cost()` with every data bit set — an upper bound for any data (L, bits, log_block
    may be SymPy symbols: the select trie is then bounded by `lookup.trie_nodes_bound`)."""

    k = 2 ** log_block
    try:
        L_i, kb = int(L), int(log_block)
        G = -(-L_i // (1 << kb))
        a = max(_ceil_log2(L_i), kb + 1)
        nodes = trie_nodes(list(range(G)), a - kb, G)
        words = G * (1 << kb)
    except TypeError:
        import sympy as sp
        G = sp.ceiling(L / k)
        nodes = {"both": G - 1, "left": 0, "right": 0, "root": "both"}   # a full trie: G − 1 nodes
        words = G * k
    select = trie_cost(nodes, controlled) + Cost(cx=words * bits)
    swap = (k - 1) * cswap_cost(bits)
    if dirty:
        return 2 * select + 4 * swap + Cost(cx=2 * bits)
    return 2 * select + 2 * swap + Cost(cx=bits)


def lookup_qubits(L: int, bits: int, log_block: int = 0, controlled: bool = True) -> int:
    """Qubits of a lookup (address, target, registers, trie work, control): log_block = 0 is
    unary iteration."""
    L = int(L)
    if log_block == 0:
        a = max(1, _ceil_log2(L))
        return a + bits + a + int(controlled)
    kb = int(log_block)
    a = max(_ceil_log2(L), kb + 1)
    G = -(-L // (1 << kb))
    return a + bits + (1 << kb) * bits + max(1, _ceil_log2(G)) + int(controlled)


def choose_lookup(L: int, bits: int, max_qubits: int | None = None, *, controlled: bool = True,
                  dirty: bool = False) -> dict:
    """The lookup with the fewest T states (4 per And or Toffoli) within `max_qubits` (None: no
    limit): {"kind": "unary" | "qroam-clean" | "qroam-dirty", "block": k, "t_states", "qubits",
    "cost"}. Unary iteration is the fallback whenever no block size fits or pays."""
    L, bits = int(L), int(bits)
    c = unary_lookup_cost(L, bits, controlled)
    best = {"kind": "unary", "block": 1, "t_states": int(c.t_states),
            "qubits": lookup_qubits(L, bits, 0, controlled), "cost": c}
    for kb in range(1, max(1, _ceil_log2(L))):
        if (1 << kb) >= L:
            break
        q = lookup_qubits(L, bits, kb, controlled)
        if max_qubits is not None and q > max_qubits:
            break
        c = qroam_cost_bound(L, bits, kb, dirty, controlled)
        t = int(c.t_states)
        if t < best["t_states"] or (t == best["t_states"] and q < best["qubits"]):
            best = {"kind": "qroam-dirty" if dirty else "qroam-clean", "block": 1 << kb,
                    "t_states": t, "qubits": q, "cost": c}
    return best
