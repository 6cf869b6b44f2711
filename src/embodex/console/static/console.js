// embodex review console: the queue, the episode view, keyboard decisions.
// Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

(function () {
  const TOKEN = document.body.dataset.token;
  const Q = "token=" + encodeURIComponent(TOKEN);
  const $ = (sel) => document.querySelector(sel);
  const PALETTE = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#4e342e", "#ad1457"];
  const SEGMENT_COLOURS = ["#90caf9", "#a5d6a7", "#ce93d8", "#ffe082", "#80deea", "#bcaaa4", "#f48fb1", "#b0bec5"];

  const state = {
    session: null,
    filters: { scope: "queue" },
    rows: [],          // the queue as last loaded
    selected: 0,       // highlighted row of the queue
    list: [],          // episode ids the episode view steps through (the queue when opened)
    ep: null,          // the open episode
    frame: 0,          // current frame (float while playing)
    shown: -1,         // the frame index last asked for
    playing: false,
    last: 0,
    cache: new Map(),  // "cam/i" -> Image, the frames fetched so far for this episode
    picking: false,    // the reject reasons are open
    busy: false,
    opening: 0,        // counts episode loads, so only the latest one is shown
  };
  const metrics = { openedAt: 0, firstFrameMs: null, decisions: 0 };
  window.embodexConsole = { state, metrics };

  // -- talking to the server ------------------------------------------------------------

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers["X-Embodex-Token"] = TOKEN;  // the header, never a cookie
    const res = await fetch(path, opts);
    const body = await res.json().catch(() => ({ error: res.statusText }));
    if (!res.ok) {
      throw new Error(body.error + (body.hint ? " — " + body.hint : ""));
    }
    return body;
  }

  function epPath(id) {
    return "/api/episodes/" + encodeURIComponent(id);
  }

  function frameUrl(cam, i) {
    return epPath(state.ep.episode_id) + "/cameras/" + encodeURIComponent(cam) + "/frames/" + i + "?" + Q;
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else e[k] = v;
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function badge(verdict) {
    return el("span", { class: "badge " + String(verdict).toLowerCase() }, verdict);
  }

  function say(text, kind) {
    const s = $("#status");
    s.textContent = text;
    s.className = kind || "";
  }

  // -- routing --------------------------------------------------------------------------

  function show(view) {
    document.body.dataset.view = view;
    $("#queue-view").hidden = view !== "queue";
    $("#episode-view").hidden = view !== "episode";
  }

  async function route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    stop();
    if (hash.startsWith("/episode/")) {
      await openEpisode(hash.slice("/episode/".length));
    } else {
      await loadQueue();
    }
  }

  // -- the queue ------------------------------------------------------------------------

  function fillSelect(select, values, current) {
    select.replaceChildren(el("option", { value: "" }, "any"));
    for (const v of values) select.appendChild(el("option", { value: v, selected: v === current }, v));
  }

  async function loadQueue() {
    show("queue");
    const params = new URLSearchParams(state.filters);
    let q;
    try {
      q = await api("/api/queue?" + params.toString());
    } catch (e) {
      $("#queue-summary").textContent = e.message;
      $("#queue-summary").className = "bad";
      return;
    }
    $("#queue-summary").className = "meta";
    state.rows = q.rows;
    const form = $("#filters");
    for (const [name, values] of Object.entries(q.filters)) {
      fillSelect(form.elements[name], values, state.filters[name] || "");
    }
    form.elements.scope.value = state.filters.scope || "queue";
    const where = state.filters.scope === "all" ? "episodes" : "waiting in the review queue";
    $("#queue-summary").textContent =
      q.rows.length + " " + where + " (of " + q.total + " in the dataset)" + (q.stale ? " — " + q.stale : "") +
      (q.rows.length || state.filters.scope === "all" ? "" : ": nothing to review — every WARN and every sampled PASS has a decision");
    const notes = $("#notes");
    notes.replaceChildren();
    for (const n of q.notes || []) notes.appendChild(el("li", {}, "dataset note (" + n.rule + "): " + n.message));
    const body = $("#queue tbody");
    body.replaceChildren();
    q.rows.forEach((r, i) => {
      const tr = el("tr", { "data-episode": r.episode_id });
      tr.appendChild(el("td", {}, i + 1));
      tr.appendChild(el("td", { class: "id" }, r.episode_id));
      tr.appendChild(el("td", {}, r.why === "warn" ? "WARN" : r.why === "sample" ? "sample" : r.why === "flag" ? "flagged" : ""));
      const v = el("td");
      v.appendChild(badge(r.verdict));
      if (r.flagged) v.appendChild(el("span", { class: "badge flagged" }, "flag"));
      tr.appendChild(v);
      for (const k of ["scene_type", "skill", "operator_id", "robot_model", "seconds"]) tr.appendChild(el("td", {}, r[k] ?? "—"));
      tr.appendChild(el("td", { class: "rules" }, r.rules.join(", ")));
      tr.appendChild(el("td", {}, r.review ? r.review.verdict + " (" + r.review.reason + ")" : ""));
      tr.addEventListener("click", () => openFromQueue(i));
      body.appendChild(tr);
    });
    state.selected = Math.min(state.selected, Math.max(q.rows.length - 1, 0));
    highlight();
  }

  function highlight() {
    document.querySelectorAll("#queue tbody tr").forEach((tr, i) => tr.classList.toggle("sel", i === state.selected));
    const sel = document.querySelector("#queue tbody tr.sel");
    if (sel) sel.scrollIntoView({ block: "nearest" });
  }

  function openFromQueue(i) {
    state.list = state.rows.map((r) => r.episode_id);
    state.selected = i;
    location.hash = "#/episode/" + encodeURIComponent(state.list[i]);
  }

  $("#filters").addEventListener("change", (ev) => {
    const f = ev.currentTarget.elements;
    state.filters = {};
    for (const name of ["scope", "scene_type", "skill", "operator", "robot", "verdict", "rule"]) {
      if (f[name].value) state.filters[name] = f[name].value;
    }
    state.selected = 0;
    loadQueue().catch((e) => alert(e.message));
  });

  // -- the episode view -----------------------------------------------------------------

  async function openEpisode(id) {
    show("episode");
    metrics.openedAt = performance.now();
    metrics.firstFrameMs = null;
    document.body.dataset.firstFrame = "";
    // drop the previous episode's prefetches still on their way: they would hold the few
    // connections the browser opens to the console while this episode's first frames wait
    for (const img of state.cache.values()) if (!img.complete) img.src = "";
    state.cache = new Map();
    state.frame = 0;
    state.shown = -1;
    state.picking = false;
    $("#reasons").hidden = true;
    say("");
    const ticket = ++state.opening;
    let ep;
    try {
      ep = await api(epPath(id));
    } catch (e) {
      say(e.message, "bad");
      return;
    }
    if (ticket !== state.opening) return;  // the reviewer moved on while this one loaded
    state.ep = ep;
    if (!state.list.includes(id)) state.list = [id];
    const pos = state.list.indexOf(id);
    $("#ep-pos").textContent = "episode " + (pos + 1) + " of " + state.list.length;
    $("#prev").disabled = pos <= 0;
    $("#next").disabled = pos >= state.list.length - 1;
    const title = $("#ep-title");
    title.replaceChildren(el("span", {}, ep.episode_id + " "), badge(ep.auto_verdict), el("span", {}, " → "), badge(ep.verdict));
    buildPlayer(ep);
    buildTimeline(ep);
    buildPlots(ep);
    buildSide(ep);
    $("#scrub").max = Math.max(ep.frame_count - 1, 0);
    seek(0);
  }

  function buildPlayer(ep) {
    const player = $("#player");
    player.dataset.frame = "-1";
    player.replaceChildren();
    for (const cam of ep.cameras) {
      const fig = el("figure", { class: "cam" });
      let media;
      if (cam.source === "video") {
        media = el("video", { muted: true, preload: "auto", playsInline: true, "data-camera": cam.name });
        media.src = epPath(ep.episode_id) + "/cameras/" + encodeURIComponent(cam.name) + "/video?" + Q;
        media.addEventListener("loadeddata", () => firstFrame(ep));
        media.addEventListener("seeked", () => shown(media, media.dataset.want));
      } else {
        media = el("img", { alt: cam.name, "data-camera": cam.name, "data-frame": "-1" });
        media.addEventListener("load", () => {
          shown(media, media.dataset.want);
          firstFrame(ep);
        });
        // a frame the camera did not record (404): the camera shows none, the others play
        media.addEventListener("error", () => {
          media.dataset.frame = "none";
          firstFrame(ep);
        });
      }
      media.width = cam.width;
      media.height = cam.height;
      fig.appendChild(media);
      const mount = cam.mount && cam.mount !== cam.name ? " · " + cam.mount.replace("_", " ") : "";
      fig.appendChild(el("figcaption", {}, cam.name + (cam.kind === "depth" ? " (depth)" : "") + mount));
      player.appendChild(fig);
    }
  }

  // the frame a camera shows now; the first camera's is the player's (tests read it)
  function shown(media, frame) {
    media.dataset.frame = frame;
    if (media === document.querySelector("#player [data-camera]")) $("#player").dataset.frame = frame;
  }

  // the episode is on screen once every camera shows a frame (the benchmark's measure)
  function firstFrame(ep) {
    const cams = document.querySelectorAll("#player [data-camera]");
    const ready = [...cams].every((m) => m.tagName === "VIDEO" ? m.readyState >= 2 : m.dataset.frame !== "-1");
    if (ready && metrics.firstFrameMs === null && state.ep === ep) {
      metrics.firstFrameMs = performance.now() - metrics.openedAt;
      document.body.dataset.firstFrame = String(metrics.firstFrameMs);
      prefetch(Math.max(state.shown, 0));
    }
  }

  function frameTime(i) {
    const t = state.ep.time_s;
    return t.length ? t[Math.max(0, Math.min(i, t.length - 1))] || 0 : i / state.ep.fps;
  }

  function spanEl(start, end, n, cls, label, title) {
    const s = el("div", { class: "span " + cls, title: title }, label);
    const a = start ?? 0;
    const b = end ?? n;
    s.style.left = (100 * a) / n + "%";
    s.style.width = Math.max((100 * (b - a)) / n, 0.4) + "%";
    return s;
  }

  function segText(s) {
    const text = s.text_en || s.text_zh || s.text;  // format 1.1 is bilingual, 1.0 had text
    return text ? ": " + text : "";
  }

  function buildTimeline(ep) {
    const tl = $("#timeline");
    const tracks = el("div", { class: "tracks" });
    tl.replaceChildren(tracks);
    const n = Math.max(ep.frame_count, 1);
    const segTrack = el("div", { class: "track" });
    segTrack.appendChild(el("span", { class: "track-label" }, "segments"));
    ep.segments.forEach((s, k) => {
      const sp = spanEl(s.start_frame, s.end_frame, n, "segment", s.skill, s.skill + " [" + s.start_frame + ", " + s.end_frame + ")" + segText(s));
      sp.style.background = SEGMENT_COLOURS[k % SEGMENT_COLOURS.length];
      sp.addEventListener("click", () => { stop(); seek(s.start_frame); });
      segTrack.appendChild(sp);
    });
    tracks.appendChild(segTrack);
    const fTrack = el("div", { class: "track findings" });
    fTrack.appendChild(el("span", { class: "track-label" }, "findings"));
    ep.findings.forEach((f, k) => {
      const whole = f.frame_start === null;
      const sp = spanEl(f.frame_start, f.frame_end, n, "finding " + f.severity + (whole ? " whole" : ""), f.rule, f.rule + ": " + f.message);
      sp.dataset.finding = String(k);
      sp.dataset.start = String(f.frame_start ?? 0);
      sp.addEventListener("click", () => { stop(); seek(f.frame_start ?? 0); });
      fTrack.appendChild(sp);
    });
    tracks.appendChild(fTrack);
    tracks.appendChild(el("div", { class: "cursor", id: "tl-cursor" }));
    tracks.addEventListener("mousedown", (ev) => {
      if (ev.target.classList.contains("span")) return;
      const r = tracks.getBoundingClientRect();
      stop();
      seek(Math.max(0, Math.min(n - 1, Math.round(((ev.clientX - r.left) / r.width) * (n - 1)))));
    });
  }

  function buildPlots(ep) {
    const box = $("#plots");
    box.replaceChildren();
    const frames = ep.plot_frames;
    const n = Math.max(ep.frame_count, 1);
    for (const plot of ep.plots || []) {
      const wrap = el("div", { class: "plot" });
      wrap.appendChild(el("div", { class: "plot-title" }, plot.label + " (" + plot.feature + ")"));
      const area = el("div", { class: "plot-area" });
      const canvas = el("canvas", { width: 640, height: 140 });
      area.appendChild(canvas);
      area.appendChild(el("div", { class: "cursor plot-cursor" }));
      wrap.appendChild(area);
      const legend = el("div", { class: "legend" });
      plot.names.forEach((name, j) => {
        const item = el("span", {}, name);
        item.style.borderColor = PALETTE[j % PALETTE.length];
        legend.appendChild(item);
      });
      wrap.appendChild(legend);
      box.appendChild(wrap);
      drawPlot(canvas, plot, frames, n);
    }
  }

  function drawPlot(canvas, plot, frames, n) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, pad = 6;
    let lo = Infinity, hi = -Infinity;
    for (const s of plot.series) for (const v of s) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) { lo = -1; hi = 1; }
    if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
    ctx.clearRect(0, 0, W, H);
    // shade the frames of the findings, as the QC report does
    for (const f of state.ep.findings) {
      if (f.frame_start === null) continue;
      ctx.fillStyle = f.severity === "fail" ? "rgba(198,40,40,0.15)" : "rgba(239,108,0,0.15)";
      const x0 = (f.frame_start / n) * W, x1 = (f.frame_end / n) * W;
      ctx.fillRect(x0, 0, Math.max(x1 - x0, 2), H);
    }
    plot.series.forEach((s, j) => {
      ctx.strokeStyle = PALETTE[j % PALETTE.length];
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      let pen = false;
      s.forEach((v, k) => {
        if (v === null) { pen = false; return; }
        const x = (frames[k] / n) * W;
        const y = H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
        if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    });
  }

  function fact(table, label, value) {
    const tr = el("tr");
    tr.appendChild(el("th", {}, label));
    tr.appendChild(el("td", {}, value === null || value === undefined || value === "" ? "—" : value));
    table.appendChild(tr);
  }

  function buildSide(ep) {
    const m = ep.meta;
    const facts = $("#facts");
    facts.replaceChildren();
    fact(facts, "instruction", m.instruction_en || m.instruction_zh);
    fact(facts, "success", m.success === null ? "unlabelled" : m.success ? "yes" : "no" + (m.failure_cause ? " (" + m.failure_cause + ")" : ""));
    fact(facts, "skill", m.skill);
    fact(facts, "scene", (m.scene_type || "—") + (m.scene_id ? " · " + m.scene_id : ""));
    fact(facts, "operator", (m.operator_id || "—") + (m.operator_level ? " (level " + m.operator_level + ")" : ""));
    fact(facts, "robot", [m.robot_model, m.robot_serial].filter(Boolean).join(" "));
    fact(facts, "objects", (m.objects || []).join(", "));
    fact(facts, "frames", ep.frame_count + " (" + ep.duration_s.toFixed(1) + " s at " + ep.fps + " fps)");
    fact(facts, "review", ep.review ? ep.review.verdict + " (" + ep.review.reason + ") by " + ep.review.reviewer : "not reviewed yet");
    const list = $("#findings");
    list.replaceChildren();
    if (!ep.findings.length) list.appendChild(el("li", { class: "meta" }, "no automatic findings"));
    ep.findings.forEach((f) => {
      const li = el("li", { class: "finding-item " + f.severity });
      const frames = f.frame_start === null ? "whole episode" : "frames [" + f.frame_start + ", " + f.frame_end + ")";
      li.appendChild(el("b", {}, f.severity.toUpperCase() + " " + f.rule));
      li.appendChild(el("span", {}, " " + frames + " — " + f.message));
      li.addEventListener("click", () => { stop(); seek(f.frame_start ?? 0); });
      list.appendChild(li);
    });
    const hist = $("#history");
    hist.replaceChildren();
    if (!ep.history.length) hist.appendChild(el("li", { class: "meta" }, "no decisions yet"));
    for (const h of ep.history) {
      const who = h.signed === "signed" ? "signed by " + h.signer : h.signed === "unsigned" ? "unsigned" : h.signed + " " + (h.keyid || "");
      hist.appendChild(el("li", { class: "signed-" + h.signed.replace(" ", "-") },
        "#" + h.seq + " " + h.verdict + " (" + h.reason + ") by " + h.reviewer + ", " + h.at + " — " + who + (h.note ? " — " + h.note : "")));
    }
  }

  // -- playback -------------------------------------------------------------------------

  function want(cam, i) {
    const key = cam + "/" + i;
    let img = state.cache.get(key);
    if (!img) {
      img = new Image();
      img.src = frameUrl(cam, i);
      state.cache.set(key, img);
    }
    return img;
  }

  function latestReady(cam, i) {
    for (let k = i; k >= Math.max(0, i - 30); k--) {
      const img = state.cache.get(cam + "/" + k);
      if (img && img.complete && img.naturalWidth > 0) return k;
    }
    return -1;
  }

  function prefetch(i) {
    const n = state.ep.frame_count;
    for (let k = 1; k <= 8 && i + k < n; k++) {
      for (const media of document.querySelectorAll("#player img[data-camera]")) want(media.dataset.camera, i + k);
    }
  }

  function render(i) {
    const ep = state.ep;
    if (!ep) return;
    const n = ep.frame_count;
    i = Math.max(0, Math.min(i, n - 1));
    if (i === state.shown) return;
    state.shown = i;
    for (const media of document.querySelectorAll("#player [data-camera]")) {
      const cam = media.dataset.camera;
      if (media.tagName === "VIDEO") {
        // the clock leads; the video follows, corrected when it drifts by more than 0.2 s
        const t = frameTime(i) + 0.5 / ep.fps;
        media.dataset.want = String(i);
        if (!state.playing || Math.abs(media.currentTime - t) > 0.2) media.currentTime = t;
        else shown(media, String(i));
        continue;
      }
      want(cam, i);
      // while playing, show the newest frame at or before i that has arrived, so a camera
      // whose frames come slower (depth) lags a little instead of stopping; paused, exact
      const ready = state.playing ? latestReady(cam, i) : i;
      if (ready >= 0 && media.dataset.want !== String(ready)) {
        media.dataset.want = String(ready);
        media.src = state.cache.get(cam + "/" + ready).src;
      }
    }
    // the next frames only once the episode is on screen: a browser opens few connections
    // to one server, and the frames a reviewer waits for come first
    if (metrics.firstFrameMs !== null) prefetch(i);
    const frac = n > 0 ? i / n : 0;  // frame i covers [i, i + 1) of n, as the spans do
    $("#scrub").value = String(i);
    $("#clock").textContent = "frame " + i + " / " + (n - 1) + " · " + frameTime(i).toFixed(2) + " s";
    const c = document.getElementById("tl-cursor");
    if (c) c.style.left = 100 * frac + "%";
    for (const pc of document.querySelectorAll(".plot-cursor")) pc.style.left = 100 * frac + "%";
  }

  function seek(i) {
    state.frame = i;
    render(Math.floor(i));
    for (const v of document.querySelectorAll("#player video")) {
      if (!state.playing) v.pause();
    }
  }

  function tick(ts) {
    if (!state.playing) return;
    const dt = (ts - state.last) / 1000;
    state.last = ts;
    const n = state.ep.frame_count;
    state.frame = Math.min(state.frame + dt * state.ep.fps, n - 1);
    render(Math.floor(state.frame));
    if (state.frame >= n - 1) { stop(); return; }
    requestAnimationFrame(tick);
  }

  function play() {
    if (!state.ep || state.playing) return;
    if (state.frame >= state.ep.frame_count - 1) state.frame = 0;
    state.playing = true;
    state.last = performance.now();
    $("#play").textContent = "❚❚";
    for (const v of document.querySelectorAll("#player video")) v.play().catch(() => {});
    requestAnimationFrame(tick);
  }

  function stop() {
    const was = state.playing;
    state.playing = false;
    $("#play").textContent = "▶";
    for (const v of document.querySelectorAll("#player video")) v.pause();
    if (was && state.ep) {  // paused: every camera shows exactly the current frame
      state.shown = -1;
      render(Math.floor(state.frame));
    }
  }

  $("#play").addEventListener("click", () => (state.playing ? stop() : play()));
  $("#scrub").addEventListener("input", (ev) => { stop(); seek(Number(ev.target.value)); });

  // -- decisions ------------------------------------------------------------------------

  function rejectReasons() {
    return state.session.reasons.filter((r) => r.verdicts.includes("reject"));
  }

  const PICK_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

  function openReasons() {
    const box = $("#reasons");
    box.replaceChildren(el("div", { class: "meta" }, "Reject because… (Esc cancels)"));
    rejectReasons().forEach((r, k) => {
      const key = r.code === "other" ? "o" : PICK_KEYS[k];
      const b = el("button", { "data-reason": r.code, title: r.meaning }, "");
      b.appendChild(el("kbd", {}, key));
      b.appendChild(document.createTextNode(" " + r.code));
      b.addEventListener("click", () => decide("reject", r.code));
      box.appendChild(b);
    });
    box.hidden = false;
    state.picking = true;
  }

  function closeReasons() {
    $("#reasons").hidden = true;
    state.picking = false;
  }

  async function decide(verdict, reason) {
    if (!state.ep || state.busy) return;
    stop();
    closeReasons();
    const note = $("#note").value.trim();
    if (!reason) reason = verdict === "flag" ? "second_look" : state.ep.auto_verdict === "WARN" ? "warning_acceptable" : "meets_spec";
    state.busy = true;
    say("recording…");
    try {
      const res = await api(epPath(state.ep.episode_id) + "/decision", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ verdict: verdict, reason: reason, note: note || null }),
      });
      metrics.decisions += 1;
      $("#note").value = "";
      const sig = res.entry.signature ? " · signed " + res.entry.signature.keyid.slice(0, 20) + "…" : "";
      say("#" + res.entry.seq + " " + verdict + " (" + reason + ") → " + res.verdict + sig, "ok");
      document.body.dataset.decisions = String(metrics.decisions);
      const pos = state.list.indexOf(state.ep.episode_id);
      if (pos >= 0 && pos < state.list.length - 1) {
        // until the next episode is on screen no key may decide about this one again
        state.ep = null;
        document.body.dataset.firstFrame = "";
        go(state.list[pos + 1]);
      } else {
        state.ep.review = null;
        const ep = await api(epPath(state.ep.episode_id));
        state.ep = ep;
        buildSide(ep);
        say("#" + res.entry.seq + " recorded; that was the last episode of the list — q for the queue", "ok");
      }
    } catch (e) {
      say(e.message, "bad");
    } finally {
      state.busy = false;
    }
  }

  function go(id) {
    location.hash = "#/episode/" + encodeURIComponent(id);
  }

  function step(delta) {
    if (!state.ep) return;
    const pos = state.list.indexOf(state.ep.episode_id);
    const next = state.list[pos + delta];
    if (next) go(next);
  }

  $("#accept").addEventListener("click", () => decide("accept"));
  $("#reject").addEventListener("click", () => openReasons());
  $("#flag").addEventListener("click", () => decide("flag"));
  $("#next").addEventListener("click", () => step(1));
  $("#prev").addEventListener("click", () => step(-1));
  $("#back").addEventListener("click", () => { location.hash = "#/queue"; });

  // -- the keyboard ---------------------------------------------------------------------

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const typing = ev.target instanceof HTMLTextAreaElement || ev.target instanceof HTMLSelectElement ||
      (ev.target instanceof HTMLInputElement && ev.target.type === "text");
    if (typing) {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (ev.key === "?") { $("#help").hidden = !$("#help").hidden; return; }
    const view = document.body.dataset.view;
    if (view === "queue") {
      if (ev.key === "j" || ev.key === "ArrowDown") { state.selected = Math.min(state.selected + 1, state.rows.length - 1); highlight(); ev.preventDefault(); }
      else if (ev.key === "k" || ev.key === "ArrowUp") { state.selected = Math.max(state.selected - 1, 0); highlight(); ev.preventDefault(); }
      else if (ev.key === "Enter" && state.rows.length) { openFromQueue(state.selected); }
      return;
    }
    if (view !== "episode") return;
    if (state.picking) {
      const reasons = rejectReasons();
      const k = PICK_KEYS.indexOf(ev.key);
      if (ev.key === "Escape") closeReasons();
      else if (ev.key === "o") decide("reject", "other");
      else if (k >= 0 && k < reasons.length && reasons[k].code !== "other") decide("reject", reasons[k].code);
      ev.preventDefault();
      return;
    }
    const n = state.ep ? state.ep.frame_count : 0;
    switch (ev.key) {
      case " ": state.playing ? stop() : play(); break;
      case "ArrowRight": stop(); seek(Math.min(state.shown + (ev.shiftKey ? 10 : 1), n - 1)); break;
      case "ArrowLeft": stop(); seek(Math.max(state.shown - (ev.shiftKey ? 10 : 1), 0)); break;
      case "Home": stop(); seek(0); break;
      case "a": decide("accept"); break;
      case "r": openReasons(); break;
      case "f": decide("flag"); break;
      case "c": $("#note").focus(); break;
      case "n": case "j": step(1); break;
      case "p": case "k": step(-1); break;
      case "q": case "Escape": location.hash = "#/queue"; break;
      default: return;
    }
    ev.preventDefault();
  });

  // -- start ----------------------------------------------------------------------------

  async function start() {
    state.session = await api("/api/session");
    $("#dataset").textContent = state.session.dataset;
    $("#reviewer").textContent = "reviewer " + state.session.reviewer + " · " + state.session.key_id.slice(0, 20) + "…";
    const nav = $("#nav");
    nav.appendChild(el("a", { href: "#/queue" }, "queue"));
    for (const p of state.session.pages) {
      nav.appendChild(el("a", { href: "/pages/" + p.id + "?" + Q, target: "_blank", rel: "noopener" }, p.title));
    }
    $("#note").maxLength = state.session.max_note;
    window.addEventListener("hashchange", () => route().catch((e) => say(e.message, "bad")));
    await route();
  }

  start().catch((e) => {
    document.body.dataset.view = "error";
    document.querySelector("main").replaceChildren(el("p", { class: "bad" }, e.message));
  });
})();
