#!/usr/bin/python3
"""Reference note lists with mido (Debian python3-mido), for the cross-check test.
Applies arioso's documented pairing rules to mido's events: a note-on with velocity 0 is a
note-off; pairing per (track, channel, pitch) first in first out; a note still sounding at the
end of its track ends at the track's last tick; the program is the last program change on the
channel at or before the note's tick over all tracks (own track only for format 2).
Prints one JSON object per file: {"file", "notes": [[track, channel, program, pitch, velocity,
start_tick, end_tick], ...]} sorted by (start_tick, track, pitch, channel), or {"file", "error"}."""
import json, sys
from collections import defaultdict, deque
import mido

def notes_of(path):
    mid = mido.MidiFile(path, clip=False)
    progs = defaultdict(list)  # channel -> [(tick, track, index, program)]
    tracks = []
    for ti, track in enumerate(mid.tracks):
        t = 0
        evs = []
        for i, msg in enumerate(track):
            t += msg.time
            evs.append((t, msg))
            if msg.type == 'program_change':
                progs[msg.channel].append((t, ti, i, msg.program))
        tracks.append(evs)
    for ch in progs:
        progs[ch].sort(key=lambda x: (x[0], x[1], x[2]))
    def program_at(ch, tick, ti):
        p = 0
        for (t, tr, _, prog) in progs[ch]:
            if t > tick: break
            if mid.type == 2 and tr != ti: continue
            p = prog
        return p
    notes = []
    for ti, evs in enumerate(tracks):
        open_ = defaultdict(deque)
        last = evs[-1][0] if evs else 0
        for t, msg in evs:
            if msg.type == 'note_on' and msg.velocity > 0:
                n = [ti, msg.channel, program_at(msg.channel, t, ti), msg.note, msg.velocity, t, t]
                open_[(msg.channel, msg.note)].append(len(notes))
                notes.append(n)
            elif msg.type == 'note_off' or (msg.type == 'note_on' and msg.velocity == 0):
                q = open_.get((msg.channel, msg.note))
                if q:
                    notes[q.popleft()][6] = t
        for q in open_.values():
            for idx in q:
                notes[idx][6] = last
    notes.sort(key=lambda n: (n[5], n[0], n[3], n[1]))
    return notes

for path in sys.argv[1:]:
    try:
        print(json.dumps({'file': path, 'notes': notes_of(path)}))
    except Exception as e:  # mido cannot read it: reported, arioso must still read it leniently
        print(json.dumps({'file': path, 'error': f'{type(e).__name__}: {e}'}))
