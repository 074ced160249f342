#!/usr/bin/python3
"""test_scaling_fit.py: scripts/scaling.py recovers known constants from noisy synthetic sweeps.

Two synthetic sweeps, written as the JSONL rows `cpurich sweep` writes:
  1. sizes at a fixed tokens-per-parameter ratio, L = E + A N^-alpha, 0.3% noise:
     L(N) must recover alpha and E, its 95% interval must hold the true alpha,
     and a held-out model 3x larger must be predicted within 1%.
  2. an IsoFLOP grid from L = E + A/N^alpha + B/D^beta with the same noise:
     approach 3 must recover alpha, beta and E; approach 2's N* ~ C^a must give
     a = beta / (alpha + beta).
Exit 77 (ctest: skipped) when /usr/bin/python3 lacks numpy or scipy.
"""
import json
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import scipy  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as e:
    print(f"skipping: {e}")
    sys.exit(77)

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "scaling.py")
rng = np.random.default_rng(7)
failures = []


def check(name, ok, detail):
    print(("ok   " if ok else "FAIL ") + name + ": " + detail)
    if not ok:
        failures.append(name)


def row(n, d, loss, budget=None):
    return {"id": f"n{n:.0f}-d{d:.0f}", "params": n, "params_non_embedding": 0.8 * n, "tokens": d,
            "flops_6nd": 6 * n * d, "flops_exact": 6.3 * n * d, "val_loss": loss,
            "val_loss_se": 0.003 * loss, "budget": budget}


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run(args):
    out = subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True)
    print(out.stdout)
    if out.returncode != 0:
        print(out.stderr)
        sys.exit(1)


with tempfile.TemporaryDirectory() as tmp:
    # 1. L(N) at 20 tokens per parameter.
    E, A, alpha = 1.1, 30.0, 0.3
    noise = lambda: 1.0 + 0.003 * rng.standard_normal()  # noqa: E731
    rows = [row(n, 20 * n, (E + A * n ** -alpha) * noise()) for n in np.geomspace(1e4, 5e5, 8)]
    held = 1.5e6
    write(os.path.join(tmp, "n.jsonl"), rows)
    write(os.path.join(tmp, "held.jsonl"), [row(held, 20 * held, E + A * held ** -alpha)])
    run([os.path.join(tmp, "n.jsonl"), "--out", os.path.join(tmp, "fit1"), "--heldout",
         os.path.join(tmp, "held.jsonl"), "--bootstrap", "300"])
    fit = json.load(open(os.path.join(tmp, "fit1", "fit.json")))
    f = fit["total"]["L(N)"]
    check("L(N) alpha", abs(f["exponent"] - alpha) < 0.05, f"{f['exponent']:.4f} vs {alpha}")
    check("L(N) alpha interval", f["exponent_95"][0] <= alpha <= f["exponent_95"][1], str(f["exponent_95"]))
    check("L(N) E", abs(f["E"] - E) < 0.1, f"{f['E']:.4f} vs {E}")
    check("L(N) R2", f["r2"] > 0.99, f"{f['r2']:.5f}")
    p = fit["prediction"]
    check("held-out prediction", abs(p["relative_error"]) < 0.01, f"{100 * p['relative_error']:+.3f}%")
    check("plots", all(os.path.exists(os.path.join(tmp, "fit1", n)) for n in
                       ("loss_vs_params.png", "loss_vs_flops.png")), "PNG files")

    # 2. IsoFLOP grid from Chinchilla's form.
    E, A, B, alpha, beta = 1.0, 60.0, 200.0, 0.35, 0.3
    rows = []
    for c in (1e12, 4e12, 1.6e13, 6.4e13):
        # sizes around the true optimum, 1/4x .. 4x
        g = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
        n_opt = g * (c / 6) ** (beta / (alpha + beta))
        for n in n_opt * np.geomspace(0.25, 4, 7):
            d = c / (6 * n)
            rows.append(row(n, d, (E + A * n ** -alpha + B * d ** -beta) * noise(), budget=c))
    write(os.path.join(tmp, "iso.jsonl"), rows)
    run([os.path.join(tmp, "iso.jsonl"), "--out", os.path.join(tmp, "fit2"), "--bootstrap", "100",
         "--bootstrap-nd", "30"])
    fit = json.load(open(os.path.join(tmp, "fit2", "fit.json")))
    f3 = fit["total"]["L(N,D)"]
    check("approach 3 alpha", abs(f3["alpha"] - alpha) < 0.08, f"{f3['alpha']:.4f} vs {alpha}")
    check("approach 3 beta", abs(f3["beta"] - beta) < 0.08, f"{f3['beta']:.4f} vs {beta}")
    check("approach 3 E", abs(f3["E"] - E) < 0.15, f"{f3['E']:.4f} vs {E}")
    iso = fit["total"]["isoflop"]
    a_true = beta / (alpha + beta)
    check("approach 2 a", abs(iso["a"] - a_true) < 0.08, f"{iso['a']:.4f} vs {a_true:.4f}")
    check("isoflop plot", os.path.exists(os.path.join(tmp, "fit2", "isoflop.png")), "isoflop.png")

if failures:
    print("failed: " + ", ".join(failures))
    sys.exit(1)
print("all checks passed")
