#!/usr/bin/python3
"""pipeline_report.py RUN_DIR --mode MODE ...: the main job's closing report.

The last step of scripts/run_pipeline.sh: reads what the earlier steps left in
RUN_DIR and writes the same figures three ways: on screen, RUN_DIR/report.md
(with the loss curve loss.png beside it) and RUN_DIR/report.json for scripts.

  model/log.jsonl          pretraining log: the last train and validation loss
  qa_{pretrained,finetuned,quantized}.json   cpurich qa-eval --json (world runs)
  finetune.json            cpurich finetune --json: trainable / total parameters
  adapter/adapter_model.safetensors          the LoRA adapter's size
  compare.json             cpurich compare --json: [fp32 row, 4-bit row]
  chat_questions.jsonl + chat_answers.txt    the chat's questions, expected answers, replies
  sample.txt               what `cpurich sample` wrote

Accuracies are fractions in report.json and percentages on screen. With
--mode text (or text-quick) there are no Q/A: "qa" is null and "skipped"
names the stages left out.
"""
import argparse
import json
import os


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def last_losses(log_path):
    """(last train loss, last validation loss) of a pretraining log.jsonl."""
    train = val = None
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            train = rec.get("loss", train)
            val = rec.get("val_loss", val)
    return train, val


def qa_figures(run):
    qa = {}
    for stage in ("pretrained", "finetuned", "quantized"):
        groups = load_json(f"{run}/qa_{stage}.json")["groups"]
        tr, te, un = (groups[g] for g in ("train", "test", "unseen"))
        qa[stage] = {
            "train": tr["accuracy"],
            "test": te["accuracy"],
            "unseen_hallucination": un["hallucination_rate"],
            "over_abstention": (tr["abstained"] + te["abstained"]) / (tr["n"] + te["n"]),
            "asked": {"train": tr["n"], "test": te["n"], "unseen": un["n"]},
        }
    return qa


def chat_samples(run):
    with open(f"{run}/chat_questions.jsonl", encoding="utf-8") as f:
        asked = [json.loads(line) for line in f if line.strip()]
    with open(f"{run}/chat_answers.txt", encoding="utf-8") as f:
        replies = f.read().split("\n")
    return [{"group": q["group"], "question": q["question"], "expected": q["expected"],
             "answer": a.strip()} for q, a in zip(asked, replies)]


def build_report(run, a):
    world = not a.mode.startswith("text")
    train_loss, val_loss = last_losses(f"{run}/model/log.jsonl")
    fp32, q4 = load_json(f"{run}/compare.json")
    quant = {"format": q4["format"], "bits_per_weight": q4["bits_per_weight"],
             "file_bytes": q4["file_bytes"], "fp32_file_bytes": fp32["file_bytes"],
             "loss_fp32": fp32["loss"], "loss": q4["loss"],
             "delta_loss": q4["loss"] - fp32["loss"], "delta_loss_pct": q4["delta_loss_pct"],
             "kl_mean": q4["kl_mean"], "same_top1": q4["same_top1"]}
    report = {"mode": a.mode, "corpus": a.corpus}
    if world:
        report["qa"] = qa_figures(run)
        ft = load_json(f"{run}/finetune.json")
        report["adapter"] = {
            "bytes": os.path.getsize(f"{run}/adapter/adapter_model.safetensors"),
            "trainable_params": ft["trainable_params"], "total_params": ft["total_params"],
            "trainable_share": ft["trainable_params"] / ft["total_params"],
            "loss_before": ft["loss_before"], "loss_after": ft["loss_after"]}
        report["samples"] = chat_samples(run)
        report["world"] = {"people": a.people, "abstain_people": a.abstain_people}
    else:
        report["qa"] = None
        report["adapter"] = None
        report["skipped"] = ["qa-eval", "finetune", "lora merge", "chat"]
    report.update({
        "train_loss": train_loss, "val_loss": val_loss, "quantization": quant,
        "decode_tokens_per_s": {"fp32": fp32["decode_tokens_per_s"],
                                q4["format"]: q4["decode_tokens_per_s"]},
        "decode_tokens": q4["decode_tokens"],
        "plots": ["loss.png"] if os.path.exists(f"{run}/loss.png") else [],
        "seconds_after_build": a.seconds, "pretrain_seconds": a.pretrain_seconds,
        "finetune_seconds": a.finetune_seconds if world else None,
        "pretrain_iters": a.iters, "finetune_iters": a.ft_iters if world else None})
    if a.plot_note:
        report["plot_note"] = a.plot_note
    return report


def markdown(report, sample_text):
    r, q = report, report["quantization"]
    world = r["qa"] is not None
    out = ["# cpurich pipeline report", ""]
    if world:
        w = r["world"]
        out.append(f"Mode {r['mode']}: the built-in world, {w['people']} people (60 % train, "
                   f"20 % test, 20 % unseen) + {w['abstain_people']} abstention people; "
                   f"pretrain {r['pretrain_iters']} steps ({r['pretrain_seconds']} s), LoRA "
                   f"fine-tune {r['finetune_iters']} steps ({r['finetune_seconds']} s); "
                   f"{r['seconds_after_build']} s after the build.")
    else:
        out.append(f"Mode {r['mode']}: pretrained on {r['corpus']} for {r['pretrain_iters']} "
                   f"steps ({r['pretrain_seconds']} s); {r['seconds_after_build']} s after the "
                   f"build. Skipped (no Q/A in a plain text): {', '.join(r['skipped'])}.")
    out += ["", f"Pretraining: last train loss {r['train_loss']:.4f}, "
            f"validation loss {r['val_loss']:.4f} (nats per token)."]
    if world:
        out += ["", "| model | train exact match | test exact match | unseen hallucination "
                "| over-abstention |", "|---|---|---|---|---|"]
        for stage, s in r["qa"].items():
            out.append(f"| {stage} | {100 * s['train']:.1f} % | {100 * s['test']:.1f} % | "
                       f"{100 * s['unseen_hallucination']:.1f} % | "
                       f"{100 * s['over_abstention']:.1f} % |")
        ad = r["adapter"]
        out += ["", f"LoRA adapter: {ad['bytes']} bytes; {ad['trainable_params']} trainable "
                f"parameters of {ad['total_params']} ({100 * ad['trainable_share']:.2f} %); "
                f"answer loss {ad['loss_before']:.4f} -> {ad['loss_after']:.4f}."]
    base = "fine-tuned (merged)" if world else "pretrained"
    out += ["", f"4-bit model ({q['format']}, {q['bits_per_weight']:.2f} bits/weight): "
            f"{q['file_bytes']} bytes = {q['file_bytes'] / q['fp32_file_bytes']:.3f}x the fp32 "
            f"file; loss {q['loss_fp32']:.4f} -> {q['loss']:.4f} "
            f"(delta {q['delta_loss']:+.4f}, {q['delta_loss_pct']:+.2f} %), "
            f"KL mean {q['kl_mean']:.4f}, same top-1 {100 * q['same_top1']:.1f} %.",
            "", "Decode speed (greedy, " + str(r["decode_tokens"]) + " tokens, measured in this "
            "run): " + ", ".join(f"{name} {tps:.0f} tokens/s"
                                 for name, tps in r["decode_tokens_per_s"].items())
            + f" ({base} model)."]
    if world:
        out += ["", "Chat with the 4-bit model (greedy):", ""]
        for s in r["samples"]:
            who = "a test person" if s["group"] == "test" else "an unseen person: never read about"
            out += [f"- Q: {s['question']} ({who})", f"  - expected: {s['expected']}",
                    f"  - model: {s['answer']}"]
    if sample_text:
        out += ["", "Sampled text (4-bit model, temperature 0.8, top-k 20):", "",
                "```", sample_text.rstrip("\n"), "```"]
    out += [""]
    if r["plots"]:
        out.append("Loss curve: ![pretraining loss](loss.png)")
    else:
        out.append(r.get("plot_note", "no loss curve"))
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--mode", required=True)
    p.add_argument("--corpus", required=True)
    for name in ("seconds", "pretrain-seconds", "finetune-seconds", "iters", "ft-iters",
                 "people", "abstain-people"):
        p.add_argument("--" + name, type=int, default=0)
    p.add_argument("--plot-note", default="")
    a = p.parse_args()
    report = build_report(a.run, a)
    with open(f"{a.run}/report.json", "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    sample_path = f"{a.run}/sample.txt"
    sample = open(sample_path, encoding="utf-8", errors="replace").read() \
        if os.path.exists(sample_path) else ""
    text = markdown(report, sample)
    with open(f"{a.run}/report.md", "w", encoding="utf-8") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
