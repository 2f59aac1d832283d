#!/usr/bin/python3
"""Tracks of MIDI files as mido (Debian python3-mido) reads them, for the arrangement test.
Prints one JSON object per file: {"file", "tracks": [{"name", "channels": [...], "programs":
[...], "notes"}, ...]}: the channels of the track's note-ons, the programs of its program
changes, and its number of note-ons with a velocity."""
import json, sys
import mido

for path in sys.argv[1:]:
    tracks = []
    for track in mido.MidiFile(path).tracks:
        name, channels, programs, notes = "", set(), set(), 0
        for msg in track:
            if msg.type == "track_name" and not name:
                name = msg.name
            elif msg.type == "program_change":
                programs.add(msg.program)
            elif msg.type == "note_on" and msg.velocity > 0:
                channels.add(msg.channel)
                notes += 1
        tracks.append({"name": name, "channels": sorted(channels), "programs": sorted(programs), "notes": notes})
    print(json.dumps({"file": path, "tracks": tracks}))
