"""The Python baseline of `cargo run --release -p nle --example sbi_compare`: sbi's NLE
training on the cookie task and on sbibm's gaussian_linear, timed with 1 and 2 torch
threads, plus the simulation throughput of numpy simulators written as a Python user
would (vectorized).

Needs a virtualenv with sbi (not part of the repository):

    python3 -m venv /work/sbi-venv && /work/sbi-venv/bin/pip install sbi
    /work/sbi-venv/bin/python crates/nle/scripts/sbi_baseline.py [--threads 1 2] [--seed 1]

Per run it prints the training time, the epochs, the best validation loss and the
time per epoch, and one JSON line per run (prefix `RESULT `).

The estimators (each side trains the same network sizes; see crates/nle/README.md):

- cookie: θ ~ Gamma(2, rate 0.2), x ~ Poisson(θ), 50,000 simulations, counts above 40
  left out (as `xtask/src/cookie_nle.rs`). sbi's categorical mass estimator
  (`CategoricalMADE` inside `CategoricalMassEstimator`, what `NLE` with
  `build_categoricalmassestimator` builds) over counts 0..=40, conditioned on z-scored
  ln θ (we train on (ln θ, x) pairs), one hidden layer of 30 squareplus units. sbi's
  MADE has no activation after its input layer, so with one masked feed-forward block
  the net is: ln θ -> linear 30 -> linear 30 + squareplus -> 41 logits (one 30x30
  layer more than ours). `--cookie-default` adds sbi's default categorical estimator
  (20 hidden, 2 residual blocks, ReLU, on θ).
- gaussian_linear: 10-D θ ~ N(0, 0.1 I), x ~ N(θ, 0.1 I), 10,000 simulations, sbi's
  default `density_estimator="maf"` (5 transforms, 50 hidden, 2 residual blocks, tanh,
  z-scored x and θ).

Training: `NLE.train()` with its defaults (batch 200, Adam 5e-4, validation 0.1, stop
after 20 epochs without improvement, gradient norm clipped at 5).
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch
from torch.distributions import Gamma, MultivariateNormal

import sbi
from sbi.inference import NLE
from sbi.neural_nets import likelihood_nn
from sbi.neural_nets.estimators import CategoricalMADE, CategoricalMassEstimator
from sbi.neural_nets.net_builders.categorial import build_categoricalmassestimator
from sbi.utils.sbiutils import standardizing_net

MAX_COUNT = 40


def squareplus(x):
    """(x + sqrt(x^2 + 4)) / 2, as `flows::Activation::Squareplus` (b = 4)."""
    return 0.5 * (x + torch.sqrt(x * x + 4.0))


# --- simulators (numpy, vectorized) -------------------------------------------


def sim_cookie(n, rng):
    theta = rng.gamma(2.0, 1.0 / 0.2, size=n)
    return theta[:, None], rng.poisson(theta)[:, None].astype(float)


def sim_gaussian_linear(n, rng):
    theta = rng.normal(0.0, np.sqrt(0.1), size=(n, 10))
    return theta, theta + rng.normal(0.0, np.sqrt(0.1), size=(n, 10))


def sim_two_moons(n, rng):
    # sbibm's two_moons simulator.
    theta = rng.uniform(-1.0, 1.0, size=(n, 2))
    a = rng.uniform(-np.pi / 2, np.pi / 2, size=n)
    r = rng.normal(0.1, 0.01, size=n)
    p = np.stack([r * np.cos(a) + 0.25, r * np.sin(a)], axis=1)
    s = np.sqrt(0.5)
    z0 = -np.abs(theta[:, 0] + theta[:, 1]) / s
    z1 = (-theta[:, 0] + theta[:, 1]) / s
    return theta, p + np.stack([z0, z1], axis=1)


def simulation_throughput(rng, n=200_000, repeats=5):
    out = {}
    for name, f in [
        ("cookie", sim_cookie),
        ("gaussian_linear", sim_gaussian_linear),
        ("two_moons", sim_two_moons),
    ]:
        f(1000, rng)
        best = min(_timed(lambda: f(n, rng)) for _ in range(repeats))
        out[name] = n / best
    return out


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


# --- estimators ------------------------------------------------------------------


def cookie_estimator(batch_theta, batch_x):
    """sbi's categorical mass estimator shaped as ours: 0..=40, z-scored ln θ, 30 squareplus."""
    net = CategoricalMADE(
        num_categories=torch.tensor([MAX_COUNT + 1]),
        num_hidden_features=30,
        categorical_values=[torch.arange(MAX_COUNT + 1, dtype=batch_x.dtype)],
        num_context_features=1,
        num_blocks=1,
        use_residual_blocks=False,
        activation=squareplus,
        embedding_net=standardizing_net(batch_theta),
    )
    return CategoricalMassEstimator(
        net, input_shape=batch_x[0].shape, condition_shape=batch_theta[0].shape
    )


def cookie_default_estimator(batch_theta, batch_x):
    """sbi's default categorical mass estimator (20 hidden, 2 residual blocks, ReLU)."""
    return build_categoricalmassestimator(
        batch_x, batch_theta, num_categories_per_variable=torch.tensor([MAX_COUNT + 1])
    )


# --- training --------------------------------------------------------------------


def cookie_data(seed, log_theta):
    torch.manual_seed(seed)
    theta = Gamma(torch.tensor([2.0]), torch.tensor([0.2])).sample((50_000,))
    x = torch.poisson(theta[:, 0])[:, None]
    keep = x[:, 0] <= MAX_COUNT
    theta, x = theta[keep], x[keep]
    return (theta.log() if log_theta else theta), x


def gaussian_linear_data(seed):
    torch.manual_seed(seed)
    prior = MultivariateNormal(torch.zeros(10), 0.1 * torch.eye(10))
    theta = prior.sample((10_000,))
    return prior, theta, theta + np.sqrt(0.1) * torch.randn_like(theta)


def train(name, estimator, prior, theta, x, max_epochs):
    inference = NLE(prior=prior, density_estimator=estimator, show_progress_bars=False)
    inference.append_simulations(theta, x)
    t = time.perf_counter()
    inference.train(max_num_epochs=max_epochs)
    seconds = time.perf_counter() - t
    print(flush=True)  # ends sbi's "converged after N epochs" line
    s = inference._summary
    epochs = int(s["epochs_trained"][-1])
    return {
        "run": name,
        "threads": torch.get_num_threads(),
        "rows": int(theta.shape[0]),
        "seconds": seconds,
        "epochs": epochs,
        "ms_per_epoch": 1e3 * seconds / epochs,
        "best_validation_loss": float(s["best_validation_loss"][-1]),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-sim", action="store_true", help="skip the simulation timing")
    p.add_argument("--cookie-default", action="store_true")
    p.add_argument("--max-epochs", type=int, default=2**31 - 1, help="for a smoke test")
    p.add_argument("--only", choices=["cookie", "gaussian_linear"])
    a = p.parse_args()
    # sbi's default tracker writes TensorBoard logs to ./sbi-logs: keep them out of the repository.
    os.chdir(tempfile.mkdtemp(prefix="sbi-baseline-"))
    print(f"torch {torch.__version__}, sbi {sbi.__version__}, numpy {np.__version__}")
    for k in a.threads:
        torch.set_num_threads(k)
        torch.manual_seed(a.seed)
        if not a.no_sim:
            rate = simulation_throughput(np.random.default_rng(a.seed))
            for task, r in rate.items():
                print(f"threads {k}: simulate {task}: {r:,.0f} sims/s (numpy)")
        runs = []
        if a.only in (None, "cookie"):
            theta, x = cookie_data(a.seed, log_theta=True)
            runs.append(train("cookie_ln_theta_30_squareplus", cookie_estimator, None, theta, x, a.max_epochs))
            if a.cookie_default:
                theta, x = cookie_data(a.seed, log_theta=False)
                prior = Gamma(torch.tensor([2.0]), torch.tensor([0.2]))
                runs.append(
                    train("cookie_sbi_default", cookie_default_estimator, prior, theta, x, a.max_epochs)
                )
        if a.only in (None, "gaussian_linear"):
            prior, theta, x = gaussian_linear_data(a.seed)
            runs.append(train("gaussian_linear_maf", likelihood_nn("maf"), prior, theta, x, a.max_epochs))
        for r in runs:
            print(
                f"threads {k}: {r['run']}: {r['rows']} sims, {r['epochs']} epochs, "
                f"{r['seconds']:.2f} s ({r['ms_per_epoch']:.1f} ms/epoch), "
                f"best validation loss {r['best_validation_loss']:.4f}"
            )
            print("RESULT " + json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
