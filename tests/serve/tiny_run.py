#!/usr/bin/python3
"""Makes a tiny trained run for the studio's tests: six short tunes of three parts (tune,
bass, drums) written with mido, `arioso prepare`, then `arioso train --preset tiny` for 40
epochs (enough to compose notes for its instruments).
usage: tiny_run.py ARIOSO OUT_DIR   (the run lands in OUT_DIR/run)"""
import os
import shutil
import subprocess
import sys

import mido

arioso, out = sys.argv[1], sys.argv[2]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out + "/midi")
for v in range(6):
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=500000))
    for i in range(48):
        p = 60 + (i * (v + 2)) % 12
        tr.append(mido.Message("note_on", note=p, velocity=90, time=0))
        tr.append(mido.Message("note_off", note=p, velocity=0, time=240))
    # A bass (Electric Bass, channel 2) and drums (channel 10) on every beat: three parts.
    for channel, program, pitch in ((1, 33, 36 + 2 * v), (9, 0, 36)):
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        tr.append(mido.Message("program_change", channel=channel, program=program, time=0))
        for i in range(24):
            tr.append(mido.Message("note_on", channel=channel, note=pitch, velocity=100, time=0))
            tr.append(mido.Message("note_off", channel=channel, note=pitch, velocity=0, time=480))
    mid.save(f"{out}/midi/tune{v}.mid")
run = lambda *a: subprocess.run([arioso, *a], check=True, stdout=subprocess.DEVNULL)
run("prepare", out + "/midi", "-o", out + "/c.arioso", "--valid-fraction", "0.2")
run("train", out + "/c.arioso", "-o", out + "/run", "--preset", "tiny", "--epochs", "40", "--window", "32", "--threads", "1")
print("tiny run in", out + "/run")
