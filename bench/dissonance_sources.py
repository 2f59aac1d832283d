#!/usr/bin/python3
"""Where dissonant simultaneities come from (docs/demo.md, "Where the pieces still differ").

    bench/dissonance_sources.py ARIOSO FILE_OR_DIR...

Reads each MIDI file's notes through `ARIOSO tokens` (the REMI grid, parts by instrument) and
splits the pairs that eval::dissonance_rate counts (notes struck at an onset, against each other
and against the notes still sounding) by whether the two notes are struck together or one is
held, and whether they are of the same part. Also the share of each instrument family's notes
still sounding at their part's next onset (eval::held_over_rate, per family).
"""
import collections, glob, json, os, subprocess, sys

FAMILIES = ["piano", "chromatic", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
            "pipe", "lead", "pad", "fx", "ethnic", "percussive", "sfx"]

def notes(arioso, path):
    """(onset, program, pitch, duration) in grid units, pitched notes only."""
    out = subprocess.run([arioso, "tokens", "--tokenizer", "remi-no-repeats", "--json", path], capture_output=True, text=True)
    if out.returncode:
        return None
    ns, bar_start, bar_len, pos, prog, dur = [], -1, 48, 0, None, {}
    for t in json.loads(out.stdout)["tokens"]:
        k, _, v = t.partition("_")
        if t == "Bar":
            bar_start = 0 if bar_start < 0 else bar_start + bar_len
        elif k == "TimeSig":
            n, d = map(int, v.split("/"))
            bar_len = n * 48 // d
        elif k == "Position":
            pos = int(v)
        elif k == "Program":
            prog = v
        elif k == "Pitch":
            ns.append([bar_start + pos, int(prog), int(v), dur.get(prog, 12)])
        elif k == "Duration" and ns and ns[-1][1] == int(prog):
            dur[prog] = int(v)
            ns[-1][3] = int(v)
    return ns

def main():
    arioso, inputs = sys.argv[1], sys.argv[2:]
    files = sorted(f for i in inputs for f in (glob.glob(os.path.join(i, "**", "*.mid"), recursive=True) if os.path.isdir(i) else [i]))
    pairs, held = collections.Counter(), collections.Counter()
    for f in files:
        ns = notes(arioso, f)
        if not ns:
            continue
        by_onset = collections.defaultdict(list)
        for n in ns:
            by_onset[n[0]].append(n)
        sounding = []
        for t in sorted(by_onset):
            sounding = [m for m in sounding if m[0] + m[3] > t]
            struck = by_onset[t]
            def count(a, b, how):
                key = (how, "same part" if a[1] == b[1] else "other parts")
                pairs[key + ("pairs",)] += 1
                pairs[key + ("dissonant",)] += abs(a[2] - b[2]) % 12 in (1, 6, 11)
            for i, a in enumerate(struck):
                for b in struck[i + 1:]:
                    count(a, b, "struck together")
                for h in sounding:
                    count(a, h, "against a held note")
            sounding += struck
        by_part = collections.defaultdict(list)
        for n in ns:
            by_part[n[1]].append(n)
        for prog, part in by_part.items():
            onsets = sorted(set(n[0] for n in part))
            nxt = dict(zip(onsets, onsets[1:]))
            for n in part:
                if n[0] in nxt:
                    held[(FAMILIES[prog // 8], "notes")] += 1
                    held[(FAMILIES[prog // 8], "held")] += n[0] + n[3] > nxt[n[0]]
    total = sum(v for k, v in pairs.items() if k[2] == "pairs")
    dissonant = sum(v for k, v in pairs.items() if k[2] == "dissonant")
    print(f"{len(files)} files; dissonance rate {dissonant / max(1, total):.3f} of {total} pairs")
    print(f"{'pairs':34} {'share':>6} {'dissonant':>10} {'adds':>6}")
    for how in ("struck together", "against a held note"):
        for who in ("same part", "other parts"):
            n, d = pairs[(how, who, "pairs")], pairs[(how, who, "dissonant")]
            print(f"{how + ', ' + who:34} {n / max(1, total):6.2f} {d / max(1, n):10.3f} {d / max(1, total):6.3f}")
    print("held past their part's next onset, by family:")
    for fam in sorted({k[0] for k in held}, key=lambda f: -held[(f, "notes")])[:8]:
        print(f"  {fam:12} {held[(fam, 'held')] / held[(fam, 'notes')]:.2f} of {held[(fam, 'notes')]} notes")

if __name__ == "__main__":
    main()
