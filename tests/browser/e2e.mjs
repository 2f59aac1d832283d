// End to end in a real browser: Debian's Chromium, headless, driven by playwright-core. Starts
// `arioso serve` on a tiny run, opens the studio, composes a short piece with the keyboard,
// and checks what a person would: the audio has a source with a duration, the piano roll shows
// notes, the download links serve valid files, the history lists the piece; a MIDI file of the
// user's opens, bars selected on its piano roll are composed anew (and undone); at phone width
// the page still fits. Screenshots are kept as test artifacts.
//   node e2e.mjs ARIOSO RUN_DIR ARTIFACT_DIR
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { existsSync } from "node:fs";
import { createServer } from "node:http";

const [arioso, runDir, artifacts] = process.argv.slice(2);
const chromium_path = process.env.CHROMIUM || "/usr/bin/chromium";
let chromium;
try {
  ({ chromium } = await import("playwright-core"));
} catch (e) {
  console.log("SKIP: playwright-core is not installed (npm ci --prefix tests/browser)");
  process.exit(77);
}
if (!existsSync(chromium_path)) {
  console.log(`SKIP: no Chromium at ${chromium_path} (apt-get install chromium)`);
  process.exit(77);
}
mkdirSync(artifacts, { recursive: true });

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
  throw new Error(msg);
}
function check(cond, msg) {
  if (!cond) fail(msg);
  console.log(`ok: ${msg}`);
}

const server = spawn(arioso, ["serve", runDir, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
let serverLog = "";  // one line per request: method, path, status
server.stdout.on("data", (d) => { serverLog += d; });
const url = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/[^\s]+\//);
    if (m) resolve(m[0]);
  });
  server.on("exit", (code) => reject(new Error(`arioso serve exited with ${code}: ${out}`)));
  setTimeout(() => reject(new Error("arioso serve did not say where it listens")), 30000);
});
console.log(`server at ${url}`);

const browser = await chromium.launch({
  executablePath: chromium_path, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("run").options.length > 0);
  check(/^(lstm|transformer) /.test(await page.textContent("#run-info")), "the model list shows the run");

  // Settings by keyboard: 2 bars (Home, then one step right), a key, a seed; then Compose with Enter.
  const bars = Number(process.env.E2E_BARS || 2);
  await page.focus("#bars");
  await page.keyboard.press("Home");
  for (let i = 1; i < bars; i++) await page.keyboard.press("ArrowRight");
  check((await page.textContent("#bars-out")) === String(bars), `the length control shows its value (${bars} bars)`);
  await page.selectOption("#key", "D:minor");
  await page.fill("#seed", "7");
  await page.focus("#go");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => /^Done/.test(document.getElementById("status").textContent) ||
                                   document.getElementById("status").className === "error", null, { timeout: 120000 });
  const status = await page.textContent("#status");
  check(status.startsWith("Done"), `composing finished (${status})`);

  // Audio: a source with a non-zero duration (the WAV decodes in the browser).
  const duration = await page.evaluate(async () => {
    const a = document.getElementById("audio");
    if (!(a.duration > 0)) await new Promise((r) => { a.addEventListener("loadedmetadata", r, { once: true }); setTimeout(r, 10000); });
    return { src: a.currentSrc, duration: a.duration };
  });
  check(duration.src.includes("/piece.wav") && duration.duration > 0, `the audio has a source with duration ${duration.duration.toFixed(2)} s`);

  // The piano roll shows notes: blue note pixels on the canvas, as many notes as notes.json has.
  const roll = await page.evaluate(() => {
    const c = document.getElementById("roll"), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let blue = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 150 && d[i] < 140 && d[i + 2] - d[i] > 60) blue++;
    return blue;
  });
  check(roll > 50, `the piano roll shows notes (${roll} note pixels)`);

  // Playing moves the playhead.
  await page.evaluate(() => document.getElementById("audio").play().catch(() => {}));
  await page.waitForTimeout(700);
  const t = await page.evaluate(() => document.getElementById("audio").currentTime);
  console.log(`audio position after 0.7 s of play: ${t.toFixed(2)} s`);

  // Download links serve valid files.
  const hrefs = await page.evaluate(() => ["dl-midi", "dl-wav", "dl-png"].map((id) => document.getElementById(id).href));
  const magic = [["MThd", 0], ["WAVE", 8], ["PNG", 1]];
  for (let i = 0; i < 3; i++) {
    const r = await page.request.get(hrefs[i]);
    const body = await r.body();
    const [sig, at] = magic[i];
    check(r.status() === 200 && body.subarray(at, at + sig.length).toString("latin1") === sig, `${hrefs[i].split("/").pop()} is a valid file (${body.length} bytes)`);
  }
  check((await page.$$("#history li")).length === 1, "the history lists the piece");
  const summary = await page.textContent("#summary");
  check(/longest copy|no onset copied/.test(summary), `the summary reports the longest copy: "${summary}"`);
  check(!(await page.isHidden("#metrics")) && (await page.$$("#metrics tbody tr")).length >= 5, "the analysis table is shown");
  await page.screenshot({ path: `${artifacts}/studio.png`, fullPage: true });

  // A second piece, then replay the first from the history.
  await page.fill("#seed", "8");
  await page.click("#go");
  await page.waitForFunction(() => document.querySelectorAll("#history li").length === 2, null, { timeout: 120000 });
  await page.click("#history li:last-child button");
  await page.waitForFunction(() => document.querySelector("#history li:last-child button").getAttribute("aria-current") === "true");
  check(true, "a piece from the history can be brought back");

  // A primer chosen from a file (as a drop or the file picker does): the piece starts from it,
  // and the roll draws its notes in the primer's colour.
  const primer = process.env.E2E_PRIMER || `${runDir}/../midi/tune0.mid`;
  if (existsSync(primer)) {
    await page.setInputFiles("#primer", primer);
    check((await page.textContent("#drop-text")).startsWith("Primer: "), "the primer is shown as chosen");
    await page.click("#go");
    await page.waitForFunction(() => document.querySelectorAll("#history li").length === 3, null, { timeout: 120000 });
    const primerPixels = await page.evaluate(() => {
      const c = document.getElementById("roll"), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let red = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 2] < 140 && d[i] - d[i + 2] > 50) red++;
      return red;
    });
    check(primerPixels > 200, `the roll shows the primer's notes in their own colour (${primerPixels} pixels)`);

    // The primer's three parts (tune, bass, drums) are listed; muting one or soloing one
    // plays the server's mix of the others (mix.wav?parts=...), which decodes.
    const partBoxes = await page.$$("#parts input[type=checkbox]");
    check(partBoxes.length >= 2 && !(await page.isHidden("#parts")), `the parts are listed with a control each (${partBoxes.length})`);
    const audioOf = () => page.evaluate(async () => {
      const a = document.getElementById("audio");
      if (!(a.duration > 0)) await new Promise((r) => { a.addEventListener("loadedmetadata", r, { once: true }); setTimeout(r, 10000); });
      return { src: a.currentSrc || a.src, duration: a.duration };
    });
    const first = await partBoxes[0].getAttribute("data-instrument");
    await page.click("#parts input[type=checkbox] >> nth=0");  // the list is drawn again: no handle stays
    const muted = await audioOf();
    check(/mix\.wav\?parts=/.test(muted.src) && !muted.src.split("parts=")[1].split(",").includes(first) && muted.duration > 0,
          `muting a part plays the mix of the others (${muted.src.split("/").pop()}, ${muted.duration.toFixed(2)} s)`);
    await page.click("#parts button >> nth=-1");
    const solo = await audioOf();
    check(solo.src.split("parts=")[1].split(",").length === 1 && solo.duration > 0, `solo plays one part (${solo.src.split("/").pop()})`);
    // The user's own music: open the file, select bars 1-2 with the keyboard on the piano roll,
    // compose them anew: every note outside them stays, the new ones lie inside and are marked;
    // Undo brings the file back.
    const waitForHistory = async (n) => page.waitForFunction((k) => document.querySelectorAll("#history li").length === k ||
      document.getElementById("status").className === "error", n, { timeout: 120000 });
    let count = (await page.$$("#history li")).length;
    await page.click("#open-song");
    await waitForHistory(count + 1);
    check((await page.textContent("#summary")).startsWith("Your file:"), `the file opens in the studio (${await page.textContent("#summary")})`);
    const opened = await page.evaluate(() => window.studioState.current);
    await page.focus("#roll");
    await page.keyboard.press("ArrowLeft");  // to bar 1 whatever was selected
    await page.keyboard.press("ArrowLeft");
    await page.keyboard.press("Shift+ArrowRight");
    check((await page.inputValue("#sel-first")) === "1" && (await page.inputValue("#sel-last")) === "2", "bars 1-2 are selected with the keyboard");
    const outside = () => page.evaluate(() => {
      const n = window.studioState.notes, a = n.bars[0], b = n.bars[2];
      return JSON.stringify(n.notes.filter((x) => x[0] < a || x[0] >= b).map((x) => [x[0], x[2], x[5]]));
    });
    const kept = await outside();
    count = (await page.$$("#history li")).length;
    await page.click("#regen");
    await waitForHistory(count + 1);
    const filled = await page.evaluate(() => {
      const n = window.studioState.notes, a = n.bars[0], b = n.bars[2];
      const fresh = n.notes.filter((x) => x[6] === 1);
      return { fresh: fresh.length, inside: fresh.every((x) => x[0] >= a - 1e-3 && x[0] < b + 1e-3), summary: document.getElementById("summary").textContent };
    });
    check((await outside()) === kept, "every note outside the selected bars stays as it was");
    check(filled.fresh > 0 && filled.inside, `the new notes lie in bars 1-2 and are marked (${filled.fresh}: ${filled.summary})`);
    check(!(await page.isDisabled("#undo")), "Undo is offered");
    await page.screenshot({ path: `${artifacts}/studio-infill.png`, fullPage: true });
    await page.click("#undo");
    await page.waitForFunction((id) => window.studioState.current === id, opened, { timeout: 10000 });
    check(true, "Undo brings the file back");
    await page.click("#clear-primer");
    check(!(await page.textContent("#drop-text")).startsWith("Primer: ") && (await page.isHidden("#keep-primer-label")), "the primer can be removed");
  }

  // Instruments chosen in the page: the piece has only those (a bass of the family, drums).
  await page.fill("#instruments", "bass, drums");
  const before = (await page.$$("#history li")).length;
  await page.click("#go");
  await page.waitForFunction((n) => document.querySelectorAll("#history li").length === n + 1 ||
                                    document.getElementById("status").className === "error", before, { timeout: 120000 });
  const parts = await page.evaluate(() => (window.studioState ? window.studioState.notes.parts : null));
  check(Array.isArray(parts) && parts.length > 0 && parts.every((p) => p.instrument === 128 || (p.instrument >= 32 && p.instrument <= 39)),
        `--instruments from the page: only bass and drums (${JSON.stringify(parts && parts.map((p) => p.name))})`);
  await page.fill("#instruments", "");

  // Phone width: nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `readable at phone width (horizontal overflow ${overflow} px)`);
  await page.screenshot({ path: `${artifacts}/studio-phone.png`, fullPage: true });
  // A page on another origin tries to compose: a no-preflight text/plain post, a JSON post
  // (preflighted), and a cross-site form post. None may queue a piece.
  const composedBefore = (serverLog.match(/POST \/api\/compose 202/g) || []).length;
  const evil = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`<form id="f" method="POST" action="${url}api/compose" enctype="multipart/form-data"><input name="bars" value="2"></form>`);
  });
  await new Promise((r) => evil.listen(0, "127.0.0.1", r));
  const evilPage = await browser.newPage();
  await evilPage.goto(`http://127.0.0.1:${evil.address().port}/`);
  const outcomes = await evilPage.evaluate(async (target) => {
    const out = [];
    try {
      await fetch(target, { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body: '{"bars":2}' });
      out.push("sent");
    } catch (e) { out.push("blocked"); }
    try {
      const r = await fetch(target, { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"bars":2}' });
      out.push(`read ${r.status}`);
    } catch (e) { out.push("blocked"); }
    return out;
  }, `${url}api/compose`);
  check(outcomes[1] === "blocked", `another origin cannot read the studio's answers (${outcomes.join(", ")})`);
  await Promise.all([evilPage.waitForNavigation().catch(() => {}), evilPage.evaluate(() => document.getElementById("f").submit())]);
  for (let i = 0; i < 100 && (serverLog.match(/POST \/api\/compose 403/g) || []).length < 2; ++i) await new Promise((r) => setTimeout(r, 50));
  const refused = (serverLog.match(/POST \/api\/compose 403/g) || []).length;
  const composedAfter = (serverLog.match(/POST \/api\/compose 202/g) || []).length;
  check(refused >= 2 && composedAfter === composedBefore, `another origin cannot compose (${refused} posts refused with 403, ${composedAfter - composedBefore} accepted)`);
  await evilPage.close();
  evil.close();

  check(errors.length === 0, `no errors in the page's console${errors.length ? ": " + errors.join("; ") : ""}`);
} finally {
  await browser.close();
  server.kill("SIGINT");
}
