#!/usr/bin/python3
"""plot_loss.py RUN_DIR: draw RUN_DIR/log.jsonl as RUN_DIR/loss.png.

Train loss (every logged step) and validation loss (evaluation steps) against
the number of training tokens seen. Uses Debian's matplotlib with the Agg
backend (no display needed):  /usr/bin/python3 scripts/plot_loss.py runs/tiny
"""
import json
import os
import sys


def read_log(path):
    """(tokens, loss) for training and (tokens, val_loss) for evaluation steps."""
    train, val = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
                tokens = rec["tokens"]
                train.append((tokens, rec["loss"]))
                if "val_loss" in rec:
                    val.append((tokens, rec["val_loss"]))
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"plot_loss: error: {path}:{lineno}: bad log line ({e})")
    return train, val


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: plot_loss.py RUN_DIR")
    run_dir = sys.argv[1]
    log = os.path.join(run_dir, "log.jsonl")
    if not os.path.isfile(log):
        raise SystemExit(f"plot_loss: error: {log} not found (is {run_dir} a pretraining run dir?)")
    train, val = read_log(log)
    if not train:
        raise SystemExit(f"plot_loss: error: {log} holds no logged steps yet")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([t for t, _ in train], [l for _, l in train], label="train loss", linewidth=1)
    if val:
        ax.plot([t for t, _ in val], [l for _, l in val], "o-", label="val loss", markersize=3)
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("cross-entropy loss (nats)")
    ax.set_title(os.path.basename(os.path.normpath(run_dir)))
    ax.grid(alpha=0.3)
    ax.legend()
    out = os.path.join(run_dir, "loss.png")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(out)


if __name__ == "__main__":
    main()
