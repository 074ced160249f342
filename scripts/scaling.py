#!/usr/bin/python3
"""scaling.py RESULTS.jsonl... --out DIR [--heldout ROW.jsonl]: fit scaling laws to a sweep.

Reads the rows `cpurich sweep` writes (one JSON object per run: params,
params_non_embedding, tokens, flops_exact, val_loss, val_loss_se, budget, ...)
and fits, with N counted both as total and as non-embedding parameters:

  L(N)    = E + A N^-alpha        on the best run of each size
  L(D)    = E + B D^-beta         on the best run of each token count
  L(N, D) = E + A/N^alpha + B/D^beta   Chinchilla's approach 3: Huber loss
            (delta 1e-3) on log L, L-BFGS from a grid of initialisations;
            needs runs whose D/N varies (a grid or IsoFLOP sweep)
  IsoFLOP  approach 2: a parabola in log N per compute budget, its minimum
            N*(C), then N* ~ C^a and D* = C/(6 N*) ~ C^b

Every exponent gets a 95% bootstrap interval (runs resampled with
replacement). With --heldout, the first row of that file is predicted from
the fit (L(N) if its tokens-per-parameter ratio is the sweep's, else L(N, D))
and compared with its measured loss. Writes DIR/fit.json and PNG plots:
loss_vs_params.png, loss_vs_flops.png and (IsoFLOP sweeps) isoflop.png.
Uses Debian's numpy / scipy / matplotlib: run with /usr/bin/python3.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
from scipy.optimize import least_squares, minimize
from scipy.special import logsumexp

REFERENCE = {
    "kaplan_alpha_N": 0.076,
    "chinchilla_alpha": 0.34,
    "chinchilla_beta": 0.28,
    "chinchilla_tokens_per_param": 20.0,
    "epoch_ai_alpha": 0.35,
    "epoch_ai_beta": 0.37,
}


def read_rows(paths):
    rows = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise SystemExit(f"scaling: error: {path}:{lineno}: {e}")
    if not rows:
        raise SystemExit("scaling: error: no rows in " + ", ".join(paths))
    return rows


# ---- L(x) = E + A x^-alpha ---------------------------------------------------


def power_law(x, p):
    e, log_a, alpha = p
    return e + np.exp(log_a - alpha * np.log(x))


def fit_power_law(x, y):
    """Least squares on L with E >= 0, started from a grid of exponents."""
    best = None
    for alpha0 in (0.05, 0.1, 0.2, 0.4, 0.8):
        e0 = max(0.0, float(np.min(y)) * 0.5)
        a0 = math.log(max(1e-9, float(np.max(y)) - e0)) + alpha0 * math.log(float(np.min(x)))
        r = least_squares(lambda p: power_law(x, p) - y, [e0, a0, alpha0],
                          bounds=([0.0, -50.0, 0.0], [float(np.min(y)), 100.0, 5.0]))
        if best is None or r.cost < best.cost:
            best = r
    return best.x


def r_squared(y, pred):
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - np.mean(y)) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def frontier(rows, key):
    """The best (lowest-loss) row for each distinct value of rows[key]."""
    best = {}
    for r in rows:
        k = r[key]
        if k not in best or r["val_loss"] < best[k]["val_loss"]:
            best[k] = r
    return [best[k] for k in sorted(best)]


def interval(samples):
    s = np.asarray([v for v in samples if np.isfinite(v)])
    if len(s) < 10:
        return None
    return [float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))]


def fit_single(rows, key, rng, n_boot):
    pts = frontier(rows, key)
    if len(pts) < 3:
        return None
    x = np.array([p[key] for p in pts], dtype=float)
    y = np.array([p["val_loss"] for p in pts], dtype=float)
    e, log_a, alpha = fit_power_law(x, y)
    boots = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(x), len(x))
        if len(set(idx.tolist())) < 3:
            continue
        boots.append(fit_power_law(x[idx], y[idx]))
    boots = np.array(boots)
    return {
        "E": float(e), "A": float(math.exp(log_a)), "exponent": float(alpha),
        "exponent_95": interval(boots[:, 2]) if len(boots) else None,
        "E_95": interval(boots[:, 0]) if len(boots) else None,
        "r2": r_squared(y, power_law(x, (e, log_a, alpha))),
        "points": len(x), "x": x.tolist(), "loss": y.tolist(),
        "_params": (float(e), float(log_a), float(alpha)), "_boots": boots,
    }


# ---- Chinchilla approach 3: L(N, D) = E + A/N^alpha + B/D^beta ----------------


def huber(r, delta=1e-3):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def approach3_objective(p, logn, logd, logl, delta=1e-3):
    """Sum of Huber(LSE(a - alpha log N, b - beta log D, e) - log L) and its gradient."""
    a, b, e, alpha, beta = p
    t = np.stack([a - alpha * logn, b - beta * logd, np.full_like(logn, e)])
    pred = logsumexp(t, axis=0)
    r = pred - logl
    w = np.exp(t - pred)  # softmax weights: d pred / d t_i
    g = np.clip(r, -delta, delta)  # Huber'(r)
    grad = np.array([np.sum(g * w[0]), np.sum(g * w[1]), np.sum(g * w[2]),
                     -np.sum(g * w[0] * logn), -np.sum(g * w[1] * logd)])
    return float(np.sum(huber(r, delta))), grad


def approach3_fit(logn, logd, logl, inits):
    best = None
    for p0 in inits:
        r = minimize(approach3_objective, p0, args=(logn, logd, logl), jac=True, method="L-BFGS-B")
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def approach3_grid():
    return [[a, b, e, al, be] for a in (0.0, 5.0, 10.0, 20.0) for b in (0.0, 5.0, 10.0, 20.0)
            for e in (-1.0, 0.0, 1.0) for al in (0.2, 0.5, 1.0) for be in (0.2, 0.5, 1.0)]


def compute_optimal(a_, b_, alpha, beta, c):
    """Chinchilla eq. 4: N_opt = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta))."""
    A, B = math.exp(a_), math.exp(b_)
    g = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    n_opt = g * (c / 6.0) ** (beta / (alpha + beta))
    return n_opt, (c / 6.0) / n_opt


def fit_approach3(rows, key, rng, n_boot, budget):
    ratio = np.log([r["tokens"] / r[key] for r in rows])
    if len(rows) < 5 or np.std(ratio) < 0.1:
        return None  # D moves with N: the two exponents cannot be told apart
    logn = np.log([r[key] for r in rows])
    logd = np.log([r["tokens"] for r in rows])
    logl = np.log([r["val_loss"] for r in rows])
    p = approach3_fit(logn, logd, logl, approach3_grid())
    boots = []
    near = [p + d for d in ([0] * 5, [1, 0, 0, 0.05, 0], [0, 1, 0, 0, 0.05], [-1, -1, 0, -0.05, -0.05])]
    for _ in range(n_boot):
        idx = rng.integers(0, len(rows), len(rows))
        boots.append(approach3_fit(logn[idx], logd[idx], logl[idx], near))
    boots = np.array(boots)
    a_, b_, e, alpha, beta = (float(v) for v in p)
    n_opt, d_opt = compute_optimal(a_, b_, alpha, beta, budget)
    tpp = [compute_optimal(*bp[:2], bp[3], bp[4], budget) for bp in boots if bp[3] > 0 and bp[4] > 0]
    pred = np.exp(logsumexp(np.stack([a_ - alpha * logn, b_ - beta * logd, np.full_like(logn, e)]), axis=0))
    return {
        "E": math.exp(e), "A": math.exp(a_), "B": math.exp(b_), "alpha": alpha, "beta": beta,
        "alpha_95": interval(boots[:, 3]), "beta_95": interval(boots[:, 4]),
        "r2": r_squared(np.exp(logl), pred), "points": len(rows),
        "compute_optimal_at_flops": budget, "n_opt": n_opt, "d_opt": d_opt,
        "tokens_per_param": d_opt / n_opt,
        "tokens_per_param_95": interval([d / n for n, d in tpp]),
        "_params": p,
    }


def predict_approach3(p, n, d):
    a_, b_, e, alpha, beta = p
    return float(np.exp(logsumexp([a_ - alpha * math.log(n), b_ - beta * math.log(d), e])))


# ---- IsoFLOP approach 2 ------------------------------------------------------


def isoflop_minima(rows, key):
    """{budget: (N*, loss*, parabola coeffs)} for budgets with >= 3 sizes and a minimum inside."""
    groups = {}
    for r in rows:
        if r.get("budget") is not None:
            groups.setdefault(r["budget"], []).append(r)
    out = {}
    for c, rs in sorted(groups.items()):
        if len(rs) < 3:
            continue
        x = np.log([r[key] for r in rs])
        y = np.array([r["val_loss"] for r in rs])
        coef = np.polyfit(x, y, 2)
        if coef[0] <= 0:
            continue
        xm = -coef[1] / (2 * coef[0])
        if not (x.min() <= xm <= x.max()):
            continue
        out[c] = (math.exp(xm), float(np.polyval(coef, xm)), coef)
    return out


def fit_isoflop(rows, key, rng, n_boot):
    m = isoflop_minima(rows, key)
    if len(m) < 2:
        return None

    def exponents(minima):
        cs = np.array(sorted(minima))
        ns = np.array([minima[c][0] for c in cs])
        ds = cs / (6.0 * ns)
        a = np.polyfit(np.log(cs), np.log(ns), 1)[0]
        b = np.polyfit(np.log(cs), np.log(ds), 1)[0]
        return a, b, float(np.exp(np.mean(np.log(ds / ns))))

    a, b, tpp = exponents(m)
    groups = {}
    for r in rows:
        if r.get("budget") is not None:
            groups.setdefault(r["budget"], []).append(r)
    boots = []
    for _ in range(n_boot):
        sample = []
        for rs in groups.values():
            sample += [rs[i] for i in rng.integers(0, len(rs), len(rs))]
        mb = isoflop_minima(sample, key)
        if len(mb) >= 2:
            boots.append(exponents(mb))
    boots = np.array(boots) if boots else np.zeros((0, 3))
    return {
        "budgets": {f"{c:.6g}": {"n_opt": v[0], "loss": v[1], "d_opt": c / (6 * v[0]),
                                 "tokens_per_param": c / (6 * v[0]) / v[0]} for c, v in m.items()},
        "a": float(a), "b": float(b),
        "a_95": interval(boots[:, 0]) if len(boots) else None,
        "b_95": interval(boots[:, 1]) if len(boots) else None,
        "tokens_per_param": tpp,
        "tokens_per_param_95": interval(boots[:, 2]) if len(boots) else None,
        "_minima": m,
    }


# ---- plots ---------------------------------------------------------------------


def plots(rows, fits, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in zip(axes, ("params", "params_non_embedding"), ("total", "non-embedding")):
        x = np.array([r[key] for r in rows], float)
        y = np.array([r["val_loss"] for r in rows])
        se = np.array([r.get("val_loss_se", 0.0) for r in rows])
        ax.errorbar(x, y, yerr=se, fmt="o", ms=4, alpha=0.6, label="runs")
        f = fits[label]["L(N)"]
        if f:
            xs = np.geomspace(x.min() / 1.5, x.max() * 3, 100)
            ax.plot(xs, power_law(xs, f["_params"]), "-",
                    label=f"L = {f['E']:.3f} + {f['A']:.3g} N^-{f['exponent']:.3f}  (R² {f['r2']:.3f})")
        ax.set_xscale("log")
        ax.set_xlabel(f"parameters N ({label})")
        ax.set_ylabel("validation loss (nats/token)")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss_vs_params.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    c = np.array([r["flops_exact"] for r in rows])
    y = np.array([r["val_loss"] for r in rows])
    sc = ax.scatter(c, y, c=np.log10([r["params"] for r in rows]), cmap="viridis", s=22)
    fig.colorbar(sc, label="log10 params")
    order = np.argsort(c)
    fc, fy, best = [], [], float("inf")
    for i in order:
        if y[i] < best:
            best = y[i]
            fc.append(c[i])
            fy.append(y[i])
    ax.step(fc, fy, where="post", color="crimson", label="frontier (best loss so far)")
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs (exact count)")
    ax.set_ylabel("validation loss")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "loss_vs_flops.png"), dpi=110)
    plt.close(fig)

    iso = fits["total"]["isoflop"]
    if iso:
        fig, ax = plt.subplots(figsize=(6.5, 4.4))
        groups = {}
        for r in rows:
            if r.get("budget") is not None:
                groups.setdefault(r["budget"], []).append(r)
        for cb, rs in sorted(groups.items()):
            xs = np.array([r["params"] for r in rs], float)
            ys = np.array([r["val_loss"] for r in rs])
            line = ax.plot(xs, ys, "o", label=f"C = {cb:.2g}")[0]
            if cb in iso["_minima"]:
                n_opt, l_opt, coef = iso["_minima"][cb]
                xx = np.geomspace(xs.min(), xs.max(), 60)
                ax.plot(xx, np.polyval(coef, np.log(xx)), "-", color=line.get_color())
                ax.plot([n_opt], [l_opt], "*", ms=12, color=line.get_color())
        ax.set_xscale("log")
        ax.set_xlabel("parameters N")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "isoflop.png"), dpi=110)
        plt.close(fig)


# ---- main ------------------------------------------------------------------------


def public(d):
    """A fit without its private (underscore) entries, for fit.json."""
    if d is None:
        return None
    return {k: v for k, v in d.items() if not k.startswith("_")}


def fmt_ci(ci):
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "[n/a]"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results.jsonl files of cpurich sweep")
    ap.add_argument("--out", required=True, help="folder for fit.json and the PNGs")
    ap.add_argument("--heldout", help="JSONL whose first row is a run kept out of the fit")
    ap.add_argument("--bootstrap", type=int, default=400, help="bootstrap resamples (L(N), IsoFLOP)")
    ap.add_argument("--bootstrap-nd", type=int, default=100, help="bootstrap resamples of L(N, D)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args(argv)

    rows = read_rows(args.results)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    budget = float(np.median([r["flops_6nd"] for r in rows]))
    fits = {}
    for label, key in (("total", "params"), ("non_embedding", "params_non_embedding")):
        fits[label] = {
            "L(N)": fit_single(rows, key, rng, args.bootstrap),
            "L(D)": fit_single(rows, "tokens", rng, args.bootstrap) if label == "total" else None,
            "L(N,D)": fit_approach3(rows, key, rng, args.bootstrap_nd, budget),
            "isoflop": fit_isoflop(rows, key, rng, args.bootstrap),
        }
    fits["non-embedding"] = fits["non_embedding"]

    result = {"runs": len(rows), "reference": REFERENCE}
    for label in ("total", "non_embedding"):
        result[label] = {k: public(v) for k, v in fits[label].items()}

    if args.heldout:
        h = read_rows([args.heldout])[0]
        ratios = [r["tokens"] / r["params"] for r in rows]
        same_ratio = abs(math.log(h["tokens"] / h["params"] / float(np.median(ratios)))) < 0.1
        f1, f3 = fits["total"]["L(N)"], fits["total"]["L(N,D)"]
        if (same_ratio or f3 is None) and f1 is not None:
            method = "L(N)"
            pred = float(power_law(h["params"], f1["_params"]))
            boots = [float(power_law(h["params"], b)) for b in f1["_boots"]]
        elif f3 is not None:
            method = "L(N,D)"
            pred = predict_approach3(f3["_params"], h["params"], h["tokens"])
            boots = []
        else:
            raise SystemExit("scaling: error: no fit to predict the held-out run from")
        result["prediction"] = {
            "params": h["params"], "tokens": h["tokens"], "predicted_loss": pred,
            "predicted_loss_95": interval(boots), "measured_loss": h["val_loss"],
            "measured_loss_se": h.get("val_loss_se"), "method": method,
            "relative_error": (pred - h["val_loss"]) / h["val_loss"],
        }

    with open(os.path.join(args.out, "fit.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    if not args.no_plots:
        plots(rows, fits, args.out)

    print(f"{len(rows)} runs")
    for label in ("total", "non_embedding"):
        f = fits[label]["L(N)"]
        if f:
            print(f"L(N), N {label:13s}: L = {f['E']:.3f} + {f['A']:.4g} N^-{f['exponent']:.3f}  "
                  f"alpha 95% {fmt_ci(f['exponent_95'])}  R² {f['r2']:.4f}  ({f['points']} sizes)")
    f = fits["total"]["L(D)"]
    if f:
        print(f"L(D):                   L = {f['E']:.3f} + {f['A']:.4g} D^-{f['exponent']:.3f}  "
              f"beta 95% {fmt_ci(f['exponent_95'])}  R² {f['r2']:.4f}")
    for label in ("total", "non_embedding"):
        f = fits[label]["L(N,D)"]
        if f:
            print(f"L(N,D), N {label:11s}: E {f['E']:.3f} A {f['A']:.4g} B {f['B']:.4g} "
                  f"alpha {f['alpha']:.3f} {fmt_ci(f['alpha_95'])} beta {f['beta']:.3f} "
                  f"{fmt_ci(f['beta_95'])}; at C = {budget:.3g}: {f['tokens_per_param']:.1f} "
                  f"tokens/param {fmt_ci(f['tokens_per_param_95'])}")
        f = fits[label]["isoflop"]
        if f:
            print(f"IsoFLOP, N {label:10s}: N* ~ C^{f['a']:.3f} {fmt_ci(f['a_95'])}, "
                  f"D* ~ C^{f['b']:.3f} {fmt_ci(f['b_95'])}, {f['tokens_per_param']:.1f} tokens/param "
                  f"{fmt_ci(f['tokens_per_param_95'])}")
    print("reference: Kaplan alpha_N 0.076; Chinchilla alpha 0.34, beta 0.28, ~20 tokens/param; "
          "Epoch AI refit alpha 0.35, beta 0.37")
    if "prediction" in result:
        p = result["prediction"]
        print(f"held-out run ({p['params']} params, {p['tokens']} tokens): predicted "
              f"{p['predicted_loss']:.4f} {fmt_ci(p['predicted_loss_95'])} by {p['method']}, "
              f"measured {p['measured_loss']:.4f}: {100 * p['relative_error']:+.2f}%")
    print("wrote " + os.path.join(args.out, "fit.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
