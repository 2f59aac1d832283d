// arioso studio: the page's logic, plain JavaScript with no dependencies. It talks to the JSON
// API of `arioso serve` (see the README): GET /api/runs, GET /api/instruments, POST /api/compose,
// GET /api/pieces/ID.
"use strict";

// General MIDI program names, from the server (GET /api/instruments: music/instruments.cpp's list).
let GM = [];
const TONICS = ["C","C#","D","Eb","E","F","F#","G","Ab","A","Bb","B"];
const METRICS = [
  ["pitch_class_entropy", "pitch-class entropy"], ["scale_consistency", "scale consistency"], ["pitch_range", "pitch range"],
  ["polyphony", "polyphony"], ["notes_per_beat", "notes per beat"], ["empty_beat_rate", "empty beats"], ["groove_consistency", "groove consistency"]];

const $ = (id) => document.getElementById(id);
const state = { runs: [], history: [], current: null, notes: null, rollImage: null, primer: null, urls: null, muted: new Set(),
  sel: { first: 1, last: 1 }, versions: [], piece: null };
window.studioState = state;  // for the browser test
// Colours of the parts in order (as the PNG piano roll draws them); drums are instrument 128.
const PART_COLOURS = ["31,120,181", "255,127,14", "44,160,44", "214,39,40", "148,103,189", "140,86,75", "227,119,194", "127,127,127", "188,189,34", "23,190,207"];
const DRUMS = 128;

function fmt(x, d = 2) { return (typeof x === "number" && isFinite(x)) ? x.toFixed(d) : "–"; }

function setStatus(text, error = false) {
  const s = $("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

async function api(path, options) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: `HTTP ${res.status}` }; }
  return { res, body };
}

// --- controls ---------------------------------------------------------------------------------
function setupControls() {
  for (const t of TONICS) for (const mode of ["major", "minor"]) $("key").add(new Option(`${t} ${mode}`, `${t}:${mode}`));
  const show = {
    bars: (v) => v, temperature: (v) => Number(v).toFixed(2), max_copy: (v) => (v === "0" ? "off" : v),
    tempo: (v) => (v === "0" ? "the model's" : `${v} BPM`) };
  for (const [id, f] of Object.entries(show)) {
    const update = () => { $(`${id}-out`).textContent = f($(id).value); };
    $(id).addEventListener("input", update);
    update();
  }
  $("dice").addEventListener("click", () => { $("seed").value = Math.floor(Math.random() * 1000000); });
  const drop = $("drop"), input = $("primer");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length) setPrimer(e.dataTransfer.files[0]);
  });
  input.addEventListener("change", () => { if (input.files.length) setPrimer(input.files[0]); });
  $("clear-primer").addEventListener("click", () => setPrimer(null));
  $("run").addEventListener("change", showRunInfo);
  $("compose").addEventListener("submit", (e) => { e.preventDefault(); compose(); });
  $("open-song").addEventListener("click", () => {
    const form = new FormData();
    form.append("params", JSON.stringify({ run: $("run").value, mode: "open" }));
    form.append("primer", state.primer, state.primer.name);
    submit({ method: "POST", body: form }, { run: $("run").value, mode: "open", song: state.primer.name }, true);
  });
  setupEditing();
}

// --- working on a piece: select bars, compose them anew, add parts, undo ------------------------------
function barCount() { return state.notes ? Math.max(1, state.notes.bars.length - 1) : 1; }

function select(first, last) {
  const n = barCount();
  first = Math.min(Math.max(1, Math.round(first) || 1), n);
  last = Math.min(Math.max(first, Math.round(last) || first), n);
  state.sel = { first, last };
  $("sel-first").value = first;
  $("sel-last").value = last;
  if (state.notes) drawRoll();
}

function barAt(px) {
  const b = state.notes.bars;
  for (let i = b.length - 1; i >= 0; i--) if (state.rollX(b[i]) <= px) return i + 1;
  return 1;
}

function setupEditing() {
  const roll = $("roll");
  let anchor = null;
  const px = (e) => (e.offsetX * roll.width) / roll.clientWidth;
  roll.addEventListener("mousedown", (e) => { if (!state.notes) return; anchor = barAt(px(e)); select(anchor, anchor); });
  roll.addEventListener("mousemove", (e) => { if (anchor === null) return; const b = barAt(px(e)); select(Math.min(anchor, b), Math.max(anchor, b)); });
  window.addEventListener("mouseup", () => { anchor = null; });
  roll.addEventListener("keydown", (e) => {
    if (!state.notes || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
    e.preventDefault();
    const d = e.key === "ArrowRight" ? 1 : -1, { first, last } = state.sel;
    if (e.shiftKey) select(first, last + d);
    else select(first + d, last + d);
  });
  $("sel-first").addEventListener("change", () => select(Number($("sel-first").value), Math.max(Number($("sel-first").value), state.sel.last)));
  $("sel-last").addEventListener("change", () => select(state.sel.first, Number($("sel-last").value)));
  $("regen").addEventListener("click", () => edit("infill"));
  $("add-go").addEventListener("click", () => edit("accompany"));
  $("undo").addEventListener("click", undo);
}

function edit(mode) {
  if (!state.piece) return;
  const base = settings(), s = { run: state.piece.run, mode, from: state.piece.id, temperature: base.temperature, seed: base.seed, max_copy: base.max_copy };
  if (mode === "infill") {
    s.fill_bars = `${state.sel.first}-${state.sel.last}`;
    if ($("fill-parts").value.trim()) s.instruments = $("fill-parts").value.trim();
  } else {
    s.add = $("add-parts").value.trim();
    if (!s.add) return setStatus("Name the parts to add, for example bass, drums.", true);
  }
  submit({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(s) }, s, false);
}

async function undo() {
  const prev = state.versions.pop();
  $("undo").disabled = state.versions.length === 0;
  if (prev) await show(prev.piece, prev.settings);
  setStatus(prev ? "Back to the version before." : "");
}

function setPrimer(file) {
  state.primer = file;
  $("drop").classList.toggle("has", !!file);
  $("drop-text").textContent = file ? `Primer: ${file.name} (${Math.ceil(file.size / 1024)} KB)` :
    "Drop a MIDI file here to start from it (optional), or press Enter to choose one";
  $("clear-primer").hidden = !file;
  $("keep-primer-label").hidden = !file;
  $("open-song").hidden = !file;
  if (!file) $("primer").value = "";
}

async function loadInstruments() {
  const { res, body } = await api("/api/instruments");
  if (!res.ok) return setStatus(body.error || "could not list the instruments", true);
  GM = body.programs;
  for (let i = 0; i < GM.length; i++) $("program").add(new Option(`${i} ${GM[i]}`, String(i)));
}

async function loadRuns() {
  const { res, body } = await api("/api/runs");
  if (!res.ok) return setStatus(body.error || "could not list the models", true);
  state.runs = body.runs;
  for (const r of body.runs) $("run").add(new Option(r.name, r.name));
  showRunInfo();
}

function showRunInfo() {
  const r = state.runs.find((x) => x.name === $("run").value);
  if (!r) return;
  $("run-info").textContent = `${r.model} ${r.preset}, ${r.tokenizer} tokens, ${(r.parameters / 1e6).toFixed(2)} M parameters, ` +
    `trained on ${r.corpus || "?"}; held-out NLL ${fmt(r.valid_nll, 3)} nats/token`;
}

// --- composing --------------------------------------------------------------------------------
function settings() {
  const s = { run: $("run").value, bars: Number($("bars").value), temperature: Number($("temperature").value),
    tempo: Number($("tempo").value), program: Number($("program").value), seed: Number($("seed").value || 0),
    max_copy: Number($("max_copy").value) };
  if ($("key").value) s.key = $("key").value;
  if ($("instruments").value.trim()) s.instruments = $("instruments").value.trim();
  if ($("no_drums").checked) s.no_drums = true;
  if (state.primer) s.keep_primer = $("keep_primer").checked;
  return s;
}

async function compose() {
  const s = settings();
  let options;
  if (state.primer) {
    const form = new FormData();
    form.append("params", JSON.stringify(s));
    form.append("primer", state.primer, state.primer.name);
    options = { method: "POST", body: form };
  } else {
    options = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(s) };
  }
  await submit(options, s, true);
}

// Sends a job and shows its piece; an edit (not `fresh`) keeps the piece before it for Undo.
async function submit(options, s, fresh) {
  const before = state.piece ? { piece: state.piece, settings: state.pieceSettings } : null;
  for (const id of ["go", "regen", "add-go", "undo"]) $(id).disabled = true;
  $("progress").hidden = false;
  $("progress").value = 0;
  setStatus("Sending…");
  try {
    let { res, body } = await api("/api/compose", options);
    if (res.status === 503) {
      const wait = Number(res.headers.get("Retry-After") || 2);
      setStatus(`The server is busy; trying again in ${wait} s…`);
      await new Promise((r) => setTimeout(r, wait * 1000));
      ({ res, body } = await api("/api/compose", options));
    }
    if (res.status !== 202) throw new Error(body.error || `HTTP ${res.status}`);
    const done = await follow(body.id);
    if (fresh) state.versions = [];
    else if (before) state.versions.push(before);
    await show(done, s);
    state.history.unshift({ piece: done, settings: s, at: new Date() });
    drawHistory();
    setStatus(`Done in ${fmt(done.seconds_taken, 1)} s.`);
  } catch (e) {
    setStatus(String(e.message || e), true);
  } finally {
    for (const id of ["go", "regen", "add-go"]) $(id).disabled = false;
    $("undo").disabled = state.versions.length === 0;
    $("progress").hidden = true;
  }
}

async function follow(id) {
  for (;;) {
    const { res, body } = await api(`/api/pieces/${id}`);
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    if (body.status === "done") return body;
    if (body.status === "failed") throw new Error(`Composing failed: ${body.error}`);
    $("progress").value = body.progress;
    setStatus(body.status === "queued" ? `Waiting: number ${body.position} in the queue…` : `${body.stage[0].toUpperCase()}${body.stage.slice(1)}… ${Math.round(100 * body.progress)}%`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// --- showing a piece --------------------------------------------------------------------------
async function show(piece, s) {
  state.current = piece.id;
  state.piece = piece;
  state.pieceSettings = s;
  $("result").hidden = false;
  const u = piece.urls, sum = piece.summary;
  $("audio").src = sum.wav ? u.wav : "";
  $("dl-midi").href = u.midi;
  $("dl-wav").href = u.wav;
  $("dl-wav").hidden = !sum.wav;
  $("dl-png").href = u.png;
  const copy = sum.longest_copy_onsets > 0
    ? `longest copy from the training pieces: ${sum.longest_copy_onsets} onset${sum.longest_copy_onsets === 1 ? "" : "s"} (${fmt(sum.longest_copy_seconds, 1)} s) from ${sum.longest_copy_from}`
    : "no onset copied from the training pieces";
  const edited = sum.mode === "infill" || sum.mode === "accompany";
  $("summary").textContent = sum.mode === "open" ? `Your file: ${sum.notes_kept} notes, ${sum.bars} bars, ${fmt(sum.seconds, 1)} s.` :
    (edited ? `${sum.notes_added} new notes (${(sum.instruments || []).join(", ") || "no part"}) in bars ${sum.fill_bars[0]}-${sum.fill_bars[1]}; ` +
      `${sum.notes_kept} of yours kept as they were; ` : `${sum.notes} notes, ${sum.bars} bars, ${fmt(sum.seconds, 1)} s; `) +
    (sum.mode === "open" ? "" : `${copy}` + (sum.max_copy > 0 ? ` (limit ${sum.max_copy}).` : " (gate off).") + ` Seed ${piece.params.seed}.`);
  const [notes, analysis] = await Promise.all([fetch(u.notes).then((r) => r.json()), fetch(u.analysis).then((r) => r.json())]);
  state.notes = notes;
  state.urls = u;
  state.muted = new Set();
  drawParts();
  if (sum.fill_bars) select(sum.fill_bars[0], sum.fill_bars[1]);
  else select(state.sel.first, state.sel.last);
  drawAnalysis(analysis);
  drawHistory();
}

// --- parts: each instrument with its colour; hear it or not, or solo it ----------------------------
function partColour(instrument) {
  const i = (state.notes.parts || []).findIndex((p) => p.instrument === instrument);
  return PART_COLOURS[Math.max(0, i) % PART_COLOURS.length];
}

function drawParts() {
  const box = $("parts"), parts = state.notes.parts || [];
  box.innerHTML = "";
  box.hidden = parts.length < 2;
  for (const p of parts) {
    const row = document.createElement("span");
    row.className = "part";
    const label = document.createElement("label");
    const on = document.createElement("input");
    on.type = "checkbox";
    on.checked = !state.muted.has(p.instrument);
    on.dataset.instrument = String(p.instrument);
    on.addEventListener("change", () => { if (on.checked) state.muted.delete(p.instrument); else state.muted.add(p.instrument); mixChanged(); });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${partColour(p.instrument)})`;
    label.append(on, swatch, ` ${p.name} (${p.notes})`);
    const solo = document.createElement("button");
    solo.type = "button";
    solo.className = "link";
    solo.textContent = "solo";
    solo.setAttribute("aria-label", `solo ${p.name}`);
    solo.addEventListener("click", () => { state.muted = new Set(parts.map((q) => q.instrument).filter((i) => i !== p.instrument)); mixChanged(); });
    row.append(label, solo);
    box.append(row);
  }
}

// Muting or soloing: the server renders the mix of the parts still on (GET .../mix.wav?parts=...).
function mixChanged() {
  const parts = (state.notes.parts || []).map((p) => p.instrument), on = parts.filter((i) => !state.muted.has(i));
  const a = $("audio"), at = a.currentTime || 0, playing = !a.paused;
  a.src = state.muted.size === 0 ? state.urls.wav : `${state.urls.status}/mix.wav?parts=${on.join(",")}`;
  a.currentTime = at;
  if (playing) a.play().catch(() => {});
  drawParts();
  drawRoll();
}

function drawRoll() {
  const c = $("roll"), g = c.getContext("2d"), n = state.notes;
  const drumKeys = [...new Set(n.notes.filter((x) => x[5] === DRUMS).map((x) => x[2]))].sort((a, b) => a - b);
  const W = c.width, left = 36, lane = drumKeys.length ? Math.min(c.height * 0.25, 8 * drumKeys.length) + 4 : 0, H = c.height - lane;
  const lo = Math.min(n.pitch_min, 127) - 2, hi = Math.max(n.pitch_max, 0) + 2, dur = Math.max(n.seconds, 0.1);
  const x = (t) => left + (W - left - 4) * t / dur, y = (p) => H - 4 - (H - 8) * (p - lo + 1) / (hi - lo + 1), rowH = (H - 8) / (hi - lo + 1);
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  g.font = "11px system-ui"; g.fillStyle = "#5b5b66";
  for (let p = lo; p <= hi; p++) if (p % 12 === 0) {
    g.fillText(`C${p / 12 - 1}`, 2, y(p) + rowH - 1);
    g.strokeStyle = "#eee"; g.beginPath(); g.moveTo(left, y(p) + rowH); g.lineTo(W, y(p) + rowH); g.stroke();
  }
  const { first, last } = state.sel;  // the selected bars, shaded
  if (n.bars.length > last) { g.fillStyle = "rgba(47,95,179,0.08)"; g.fillRect(x(n.bars[first - 1]), 0, x(n.bars[last]) - x(n.bars[first - 1]), H); }
  g.strokeStyle = "#d9d6cf";
  for (const b of n.bars) { g.beginPath(); g.moveTo(x(b), 0); g.lineTo(x(b), H); g.stroke(); }
  const drumRow = drumKeys.length ? (lane - 4) / drumKeys.length : 0;
  for (const [s, e, p, v, primer, instrument = 0, fresh = 0] of n.notes) {
    const a = (0.35 + 0.65 * v / 127) * (state.muted.has(instrument) ? 0.15 : 1);
    g.fillStyle = primer ? `rgba(192,86,59,${a})` : `rgba(${partColour(instrument)},${a})`;
    const box = instrument === DRUMS ? [x(s), H + 4 + drumKeys.indexOf(p) * drumRow, 2, Math.max(1, drumRow - 1)]
      : [x(s), y(p), Math.max(2, x(e) - x(s) - 1), Math.max(2, rowH - 1)];
    g.fillRect(...box);
    if (fresh) { g.strokeStyle = "#1d1d1f"; g.strokeRect(...box); }  // new material, outlined
  }
  state.rollImage = g.getImageData(0, 0, W, H);
  state.rollX = x;
}

function playhead() {
  const a = $("audio");
  if (state.rollImage) {
    const c = $("roll"), g = c.getContext("2d");
    g.putImageData(state.rollImage, 0, 0);
    const px = state.rollX(a.currentTime || 0);
    g.strokeStyle = "#c0563b"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(px, 0); g.lineTo(px, c.height); g.stroke(); g.lineWidth = 1;
  }
  if (!a.paused) requestAnimationFrame(playhead);
}

function drawAnalysis(a) {
  const piece = (a.pieces && a.pieces[0]) || {}, ref = a.reference || null;
  const body = $("metrics").tBodies[0];
  body.innerHTML = "";
  for (const [k, name] of METRICS) {
    const tr = body.insertRow();
    tr.insertCell().textContent = name;
    tr.insertCell().textContent = fmt(piece[k]);
    tr.insertCell().textContent = ref && ref[k] ? `${fmt(ref[k].mean)} ± ${fmt(ref[k].std)}` : "–";
  }
  const c = $("chart"), g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
  const rowH = (H - 30) / METRICS.length, left = 160;
  g.font = "12px system-ui";
  METRICS.forEach(([k, name], i) => {
    const v = piece[k], r = ref && ref[k];
    const top = Math.max(1e-9, Math.abs(v || 0), r ? Math.abs(r.mean) + r.std : 0);
    const w = (t) => (W - left - 20) * Math.max(0, t) / top, y0 = 10 + i * rowH;
    g.fillStyle = "#1d1d1f"; g.fillText(name, 6, y0 + rowH * 0.6);
    if (r) {
      g.fillStyle = "rgba(91,91,102,0.35)"; g.fillRect(left, y0 + 3, w(r.mean), rowH * 0.35);
      g.strokeStyle = "#5b5b66"; g.beginPath();
      g.moveTo(left + w(r.mean - r.std), y0 + 3 + rowH * 0.17); g.lineTo(left + w(r.mean + r.std), y0 + 3 + rowH * 0.17); g.stroke();
    }
    g.fillStyle = "rgba(47,95,179,0.9)"; g.fillRect(left, y0 + 3 + rowH * 0.4, w(v || 0), rowH * 0.35);
  });
  g.fillStyle = "rgba(47,95,179,0.9)"; g.fillRect(left, H - 16, 12, 10);
  g.fillStyle = "#1d1d1f"; g.fillText("this piece", left + 16, H - 7);
  g.fillStyle = "rgba(91,91,102,0.35)"; g.fillRect(left + 110, H - 16, 12, 10);
  g.fillStyle = "#1d1d1f"; g.fillText(ref ? "corpus mean, ± 1 sd" : "corpus: not available", left + 126, H - 7);
}

function drawHistory() {
  const ol = $("history");
  ol.innerHTML = "";
  for (const h of state.history) {
    const li = document.createElement("li"), b = document.createElement("button");
    const s = h.settings, sum = h.piece.summary;
    b.type = "button";
    b.textContent = `${h.at.toLocaleTimeString()}: ${s.run}, ${sum.bars} bars, T ${s.temperature}, ${s.key || "any key"}, ` +
      `${s.instruments || (s.no_drums ? "no drums" : GM[s.program])}, seed ${h.piece.params.seed}; copy ${sum.longest_copy_onsets}`;
    b.setAttribute("aria-current", String(h.piece.id === state.current));
    b.addEventListener("click", () => show(h.piece, s).then(() => $("audio").play().catch(() => {})));
    li.append(b);
    ol.append(li);
  }
}

setupControls();
$("audio").addEventListener("play", () => requestAnimationFrame(playhead));
$("audio").addEventListener("seeked", playhead);
loadInstruments().then(loadRuns);
