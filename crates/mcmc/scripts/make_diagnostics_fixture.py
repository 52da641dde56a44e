#!/usr/bin/env python3
"""Reference values for `mcmc::diagnostics`, computed with ArviZ.

Writes `crates/mcmc/tests/data/diagnostics_fixture.json`: fixed, seeded input
draws and what ArviZ says about them (rank-normalized split R-hat, bulk/tail/mean
ESS, MCSE of the mean and sd, BFMI, numpy quantiles, `az.summary` columns) and
scipy's normal quantile `ndtri` at a few probabilities. The Rust tests in
`crates/mcmc/tests/diagnostics.rs` compare against this file.

Generated with (also recorded in the JSON):
    arviz 0.23.4, numpy 2.4.6, scipy 1.17.1, xarray 2026.9.0, Python 3.11.7,
    numba not installed (ArviZ then uses numpy's two-pass variance).

Re-create with
    python3 -m venv /tmp/arviz-venv && /tmp/arviz-venv/bin/pip install arviz
    /tmp/arviz-venv/bin/python crates/mcmc/scripts/make_diagnostics_fixture.py

Draws are rounded to 12 significant digits *before* ArviZ sees them, so the
JSON holds exactly the numbers ArviZ used and stays small. Non-finite results
are written as JSON strings ("nan", "inf", "-inf"), since JSON has no NaN.
"""

import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.special
import xarray

import arviz as az

SEED = 20210503  # fixed: the fixture must not change between runs
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "diagnostics_fixture.json"
QUANTILE_PROBS = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0]


def round12(a):
    """Round to 12 significant digits, so the decimal text is exact."""
    return np.vectorize(lambda v: float(f"{v:.12g}"))(np.asarray(a, dtype=float))


def ar1(rng, chains, draws, rho, scale=1.0):
    """Stationary AR(1) chains with marginal sd `scale`."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.normal(size=chains) * scale
    innovation_sd = scale * math.sqrt(1.0 - rho * rho)
    for t in range(1, draws):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=chains) * innovation_sd
    return x


def num(v):
    """A float for JSON: non-finite values become strings."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def make_cases(rng):
    cases = {}
    cases["iid_normal"] = rng.normal(size=(4, 500))
    cases["ar1_rho_0.9"] = ar1(rng, 4, 500, 0.9)
    # Bad mixing: slowly moving chains around different centres.
    offsets = np.array([0.0, 0.3, -0.3, 1.5])[:, None]
    cases["shifted_chains"] = ar1(rng, 4, 500, 0.5) + offsets
    cases["heavy_tailed_cauchy"] = rng.standard_cauchy(size=(4, 500))
    # Many ties: tests the average ranks of the rank normalization.
    cases["poisson_ties"] = rng.poisson(2.0, size=(4, 500)).astype(float)
    # Odd draw count: split chains drop the middle draw.
    cases["odd_draws"] = ar1(rng, 3, 251, 0.5, scale=2.0) + 10.0
    # Strong autocorrelation: a long Geyer sequence.
    cases["ar1_rho_0.99_long"] = ar1(rng, 2, 2000, 0.99)
    # One chain: ESS and MCSE work, R-hat needs two chains.
    cases["one_chain"] = ar1(rng, 1, 400, 0.7)
    # The smallest accepted input: 2 chains of 4 draws.
    cases["minimum_size"] = rng.normal(size=(2, 4))
    # Zero variance.
    cases["constant"] = np.full((4, 100), 1.5)
    # Every chain constant, at a different value.
    cases["stuck_chains"] = np.repeat(np.array([[0.0], [1.0], [2.0], [3.0]]), 50, axis=1)
    return {name: round12(draws) for name, draws in cases.items()}


def summary_columns(name, draws):
    table = az.summary({name: draws}, round_to="none")
    row = table.loc[name]
    cols = ["mean", "sd", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"]
    return {c: num(row[c]) for c in cols}


def reference(name, draws):
    return {
        "name": name,
        "draws": draws.tolist(),
        "rhat": num(az.rhat(draws, method="rank")),
        "ess_bulk": num(az.ess(draws, method="bulk")),
        "ess_tail": num(az.ess(draws, method="tail")),
        "ess_mean": num(az.ess(draws, method="mean")),
        "mcse_mean": num(az.mcse(draws, method="mean")),
        "mcse_sd": num(az.mcse(draws, method="sd")),
        "quantiles": [num(q) for q in np.quantile(draws.ravel(), QUANTILE_PROBS)],
        "summary": summary_columns(name, draws),
    }


def make_energies(rng):
    energies = {}
    # Well-behaved: energy changes between draws about as large as its spread.
    energies["energy_good"] = 0.5 * rng.chisquare(10, size=(4, 500)) + ar1(rng, 4, 500, 0.2)
    # Sticky: energy moves slowly (E-BFMI about 2(1 - rho) = 0.1).
    energies["energy_sticky"] = ar1(rng, 4, 500, 0.95, scale=3.0) + 20.0
    return {name: round12(e) for name, e in energies.items()}


def main():
    rng = np.random.default_rng(SEED)
    cases = make_cases(rng)
    energies = make_energies(rng)
    ndtri_p = [1e-300, 1e-20, 1e-10, 1e-5, 0.001, 0.02425, 0.05, 0.075, 0.1, 0.3,
               0.5, 0.6, 0.924, 0.975, 0.99, 0.999999, 1 - 1e-12]
    fixture = {
        "description": "ArviZ reference values for mcmc::diagnostics; made by "
        "crates/mcmc/scripts/make_diagnostics_fixture.py",
        "versions": {
            "arviz": az.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "xarray": xarray.__version__,
            "python": platform.python_version(),
            "numba": None,
        },
        "seed": SEED,
        "quantile_probs": QUANTILE_PROBS,
        "cases": [reference(name, draws) for name, draws in cases.items()],
        "bfmi": [
            {"name": name, "energy": e.tolist(), "bfmi": [num(b) for b in az.bfmi(e)]}
            for name, e in energies.items()
        ],
        "ndtri": {"p": ndtri_p, "z": [num(z) for z in scipy.special.ndtri(ndtri_p)]},
    }
    try:
        import numba  # noqa: F401

        fixture["versions"]["numba"] = numba.__version__
    except ImportError:
        pass
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, allow_nan=False, separators=(",", ":"))
    OUT.write_text(text + "\n")
    sys.stderr.write(f"wrote {OUT} ({len(text)} bytes)\n")


if __name__ == "__main__":
    main()
