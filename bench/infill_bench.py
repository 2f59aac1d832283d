#!/usr/bin/python3
"""How well `arioso infill` fits new bars into held-out pieces (docs/infill.md).

    bench/infill_bench.py ARIOSO RUN CORPUS [TRIALS] [--out FILE.json]

For TRIALS spans (1, 2, 4 or 8 bars at random places of the run's held-out pieces of CORPUS,
every part filled), runs `ARIOSO infill --json --score` and reports, over all trials:
  - NLL per note of the new bars and of the song's own bars, given the same context (ratio);
  - notes per bar of the new bars and of the song's own, each against the bars around them;
  - the share of pitched note time in the key of the bars around (new, own, around);
  - hanging and doubled notes at the seams (must be 0), and the time an 8-bar fill of a piece
    of at least 64 bars takes in the process (seconds_taken).
"""
import json, random, re, statistics, subprocess, sys, tempfile, os

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--out")]
    out = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--out=")), None)
    arioso, run, corpus = args[:3]
    trials = int(args[3]) if len(args) > 3 else 200
    ev = json.loads(subprocess.run([arioso, "evaluate", run, "--corpus", corpus, "--json"], capture_output=True, text=True, check=True).stdout)
    files = [p["file"] for p in ev["pieces"]]
    tmp = tempfile.mkdtemp()
    bars = {}
    for f in files:
        e = subprocess.run([arioso, "infill", f, "--run", run, "--bars", "1-1000000", "-o", tmp + "/x.mid"], capture_output=True, text=True)
        m = re.search(r"the song has (\d+) bars", e.stderr)
        if m and int(m.group(1)) >= 2:
            bars[f] = int(m.group(1))
    rng = random.Random(1)
    rows = []
    for t in range(trials):
        f = rng.choice(sorted(bars))
        n = bars[f]
        length = min(rng.choice([1, 2, 4, 8]), n - 1)
        first = rng.randint(1, n - length + 1)
        cmd = [arioso, "infill", f, "--run", run, "--bars", f"{first}-{first + length - 1}", "--seed", str(t + 1),
               "--json", "--score", "-o", tmp + "/x.mid"]
        j = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        j.update(file=f, song_bars=n, length=length)
        rows.append(j)
        print(f"\r{t + 1}/{trials}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    fit = [r["fit"] for r in rows]
    def total(key): return sum(x[key] for x in fit)
    nll_new = sum(x["nll_per_note_new"] * x["notes_new"] for x in fit) / max(1, total("notes_new"))
    nll_own = sum(x["nll_per_note_original"] * x["notes_original"] for x in fit) / max(1, total("notes_original"))
    mean = lambda key: statistics.mean(x[key] for x in fit)
    long8 = [r["seconds_taken"] for r in rows if r["length"] == 8 and r["song_bars"] >= 64]
    summary = {
        "trials": len(rows), "pieces": len(bars),
        "nll_per_note_new": nll_new, "nll_per_note_own": nll_own, "nll_ratio": nll_new / nll_own if nll_own else None,
        "notes_per_bar_new": mean("notes_per_bar_new"), "notes_per_bar_own": mean("notes_per_bar_original"),
        "notes_per_bar_around": mean("notes_per_bar_around"),
        "density_ratio_new": mean("notes_per_bar_new") / mean("notes_per_bar_around"),
        "density_ratio_own": mean("notes_per_bar_original") / mean("notes_per_bar_around"),
        "in_key_new": mean("in_key_new"), "in_key_own": mean("in_key_original"), "in_key_around": mean("in_key_around"),
        "hanging": sum(r["hanging_notes"] for r in rows), "doubled": sum(r["doubled_notes"] for r in rows),
        "dropped_at_seams": sum(r["dropped_at_seams"] for r in rows),
        "longest_copy_max": max(r["longest_copy_onsets"] for r in rows),
        "seconds_8_bars_of_64_plus_median": statistics.median(long8) if long8 else None, "trials_8_bars_of_64_plus": len(long8),
    }
    print(json.dumps(summary, indent=2))
    if out:
        with open(out, "w") as fh:
            json.dump({"summary": summary, "rows": rows}, fh, indent=1)

if __name__ == "__main__":
    main()
