#!/usr/bin/env python3
"""High-precision reference values for `ppl::Wiener` (tests/data/wiener_fixture.csv).

The first-passage-time density of the drift-diffusion model (Navarro & Fuss 2009,
REFERENCES.md §2) at 50 significant digits with mpmath: the lower-bound density
f(t | v, a, w) = a^-2 exp(-v a w - v^2 t / 2) g(t / a^2 | w), the small-time series for
u = t/a^2 < 1 and the large-time series otherwise, each summed until its terms are below
1e-70 of the sum (where 0.05 < u < 3 both series are summed and must agree to 35 digits). The
upper bound is v -> -v, w -> 1 - w. Partial derivatives of the log density come from
mpmath.diff of the high-precision log density (step chosen by mpmath at 50 digits).

t = rt - tau is formed in IEEE double arithmetic (Python floats), as the Rust code forms
it, so both evaluate the density at the same t.

Usage: python3 crates/ppl/scripts/make_wiener_fixture.py  (needs `pip install mpmath`)
"""

import csv
import os
import random

import mpmath as mp

mp.mp.dps = 50
TOL = mp.mpf(10) ** -70


def g_small(u, w):
    s, k = mp.mpf(0), 0
    while True:
        ks = [0] if k == 0 else [k, -k]
        term = sum((w + 2 * j) * mp.exp(-((w + 2 * j) ** 2) / (2 * u)) for j in ks)
        s += term
        if k > 2 and abs(term) < TOL * abs(s):
            break
        k += 1
    return s / mp.sqrt(2 * mp.pi * u**3)


def g_large(u, w):
    s, k = mp.mpf(0), 1
    while True:
        term = k * mp.exp(-(k**2) * mp.pi**2 * u / 2) * mp.sin(k * mp.pi * w)
        s += term
        if k > 2 and k * mp.exp(-(k**2) * mp.pi**2 * u / 2) < TOL * abs(s):
            break
        k += 1
    return mp.pi * s


def g(u, w):
    return g_small(u, w) if u < 1 else g_large(u, w)


def log_lower(t, v, a, w):
    u = t / a**2
    return -2 * mp.log(a) - v * a * w - v**2 * t / 2 + mp.log(g(u, w))


def log_density(choice, rt, v, a, w, tau):
    """ln p(rt, choice | v, a, w, tau) for mp arguments; t = rt - tau given exactly."""
    t = rt - tau
    if choice == 1:
        return log_lower(t, -v, a, 1 - w)
    return log_lower(t, v, a, w)


def check_series_agree(u, w):
    """Both series converge everywhere; at 50 digits they must agree (guards the script)."""
    if 0.05 < u < 3:
        gs, gl = g_small(u, w), g_large(u, w)
        assert abs(gs - gl) <= mp.mpf(10) ** -35 * abs(gs), (u, w, gs, gl)


def row(choice, rt, v, a, w, tau):
    t = rt - tau  # IEEE double, as in Rust
    assert t > 0
    mt, mv, ma, mw = mp.mpf(t), mp.mpf(v), mp.mpf(a), mp.mpf(w)
    mrt = mp.mpf(rt)
    check_series_agree(mt / ma**2, mw if choice == 0 else 1 - mw)
    lp = log_density(choice, mrt, mv, ma, mw, mrt - mt)
    # tau enters only through t = rt - tau; it is differentiated at tau = rt - t, so that
    # the density is evaluated at the t that Rust forms in f64.
    d_v = mp.diff(lambda x: log_density(choice, mrt, x, ma, mw, mrt - mt), mv)
    d_a = mp.diff(lambda x: log_density(choice, mrt, mv, x, mw, mrt - mt), ma)
    d_w = mp.diff(lambda x: log_density(choice, mrt, mv, ma, x, mrt - mt), mw)
    d_tau = mp.diff(lambda x: log_density(choice, mrt, mv, ma, mw, x), mrt - mt)
    return [choice, repr(rt), repr(v), repr(a), repr(w), repr(tau)] + [
        mp.nstr(x, 20, strip_zeros=False) for x in (lp, d_v, d_a, d_w, d_tau)
    ]


def points():
    rng = random.Random(20261125)
    pts = []
    # Random points over the prior range of the brief, log-uniform t in [1e-3, 10].
    for _ in range(150):
        v = rng.uniform(-5, 5)
        a = rng.uniform(0.3, 3)
        w = rng.uniform(0.1, 0.9)
        t = 10 ** rng.uniform(-3, 1)
        tau = rng.choice([0.0, rng.uniform(0, 1)])
        pts.append((rng.randint(0, 1), t + tau, v, a, w, tau))
    # Edges: small and large t, extreme w and v, both choices.
    for choice in (0, 1):
        for t in (1e-3, 0.01, 0.2, 1.0, 5.0, 10.0):
            for v, a, w in ((5.0, 0.3, 0.1), (-5.0, 3.0, 0.9), (0.0, 1.0, 0.5), (2.5, 1.7, 0.01), (-1.0, 0.8, 0.99)):
                pts.append((choice, t + 0.3, v, a, w, 0.3))
    return pts


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "data", "wiener_fixture.csv")
    rows = [row(*p) for p in points()]
    with open(out, "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["choice", "rt", "v", "a", "w", "tau", "logp", "d_v", "d_a", "d_w", "d_tau"])
        wr.writerows(rows)


if __name__ == "__main__":
    main()
