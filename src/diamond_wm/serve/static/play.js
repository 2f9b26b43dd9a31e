// The page of `diamond serve`: frames in, keys and mouse out, over one WebSocket (protocol.py describes it).
"use strict";

const PROTOCOL_VERSION = 1;
const RESUME_KEY = "diamond_serve_resume";
const PING_PERIOD_MS = 1000;
const MOUSE_PERIOD_MS = 16; // relative motion sent at most this often, summed in between
const RECONNECT_MS = [500, 1000, 2000, 4000, 8000];

// KeyboardEvent.code -> pygame key name (the names the server's games read)
const KEY_NAMES = {
  Space: "space", Enter: "return", NumpadEnter: "enter", Tab: "tab", Backspace: "backspace",
  ControlLeft: "left ctrl", ControlRight: "right ctrl", ShiftLeft: "left shift", ShiftRight: "right shift",
  AltLeft: "left alt", AltRight: "right alt", ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left",
  ArrowRight: "right", PageUp: "page up", PageDown: "page down", Home: "home", End: "end", Insert: "insert",
  Delete: "delete", Period: ".", Comma: ",", Slash: "/", Semicolon: ";", Quote: "'", Minus: "-", Equal: "=",
  BracketLeft: "[", BracketRight: "]", Backslash: "\\", Backquote: "`",
};
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZ") KEY_NAMES["Key" + c] = c.toLowerCase();
for (let d = 0; d <= 9; d++) KEY_NAMES["Digit" + d] = String(d);
for (let f = 1; f <= 12; f++) KEY_NAMES["F" + f] = "f" + f;

const MESSAGES = {
  version: "This page is out of date: reload the page.",
  full: "The server is full: try again later (reload the page).",
  idle_timeout: "Disconnected after a while without input (idle timeout). Reload the page to play again.",
  session_limit: "Session limit reached. Reload the page to play again.",
  shutdown: "The server stopped.",
  replaced: "This game was opened in another tab.",
  join_failed: "The server could not start a game.",
  model_error: "The world model failed.",
  bad_message: "The server refused a message.",
  rate_limited: "Too many inputs: some were dropped.",
};

const DETAILED = new Set(["version", "join_failed", "model_error", "bad_message"]); // + the server's words

const $ = (id) => document.getElementById(id);
const canvas = $("screen");
const ctx = canvas.getContext("2d");
const state = {
  ws: null, bindings: {}, mouse: false, held: new Set(), buttons: new Set(), dx: 0, dy: 0,
  drawn: [], fitted: false, decoding: false, pending: null, retries: 0, finished: false, messageTimer: null,
};

if (new URLSearchParams(location.search).has("token")) {
  history.replaceState(null, "", location.pathname); // the token lives on in an HttpOnly cookie
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function showMessage(text, info, seconds) {
  const box = $("message");
  box.textContent = text;
  box.className = info ? "info" : "";
  box.hidden = false;
  clearTimeout(state.messageTimer);
  if (seconds) state.messageTimer = setTimeout(() => { box.hidden = true; }, seconds * 1000);
}

function setStatus(text) { $("status").textContent = text; }

function connect() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  setStatus("connecting");
  ws.onopen = () => {
    send({ type: "hello", version: PROTOCOL_VERSION, resume: sessionStorage.getItem(RESUME_KEY) });
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") onControl(JSON.parse(event.data));
    else onFrame(event.data);
  };
  ws.onclose = () => {
    state.ws = null;
    if (state.finished) return;
    const wait = RECONNECT_MS[Math.min(state.retries, RECONNECT_MS.length - 1)];
    state.retries += 1;
    setStatus("disconnected");
    showMessage("Connection lost: reconnecting...", true);
    setTimeout(connect, wait);
  };
}

function onControl(m) {
  if (m.type === "welcome") {
    state.retries = 0;
    sessionStorage.setItem(RESUME_KEY, m.resume);
    state.bindings = m.bindings || {};
    state.mouse = m.mouse;
    $("help-text").textContent = m.controls.join("\n");
    $("hint").textContent = m.mouse ? "click the picture: mouse | h or ?: help" : "h or ?: help";
    setStatus(m.resumed ? "playing (game resumed)" : "playing");
    $("message").hidden = true;
  } else if (m.type === "pong") {
    $("rtt").textContent = "rtt " + Math.round(performance.now() - m.t) + " ms";
  } else if (m.type === "notice") {
    showMessage(m.message, true, 8);
  } else if (m.type === "error" || m.type === "bye") {
    const known = MESSAGES[m.code] || "Error.";
    const text = DETAILED.has(m.code) || !MESSAGES[m.code] ? known.replace(/\.$/, ": ") + m.message : known;
    const final = m.type === "bye" || m.fatal;
    showMessage(text, false, final ? 0 : 5);
    if (final) {
      state.finished = true;
      setStatus("stopped");
      if (m.code !== "version" && m.code !== "full") sessionStorage.removeItem(RESUME_KEY);
      if (document.pointerLockElement) document.exitPointerLock();
    }
  }
}

function onFrame(buffer) {
  const n = new DataView(buffer).getUint32(0);
  const meta = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  state.pending = { meta, blob: new Blob([new Uint8Array(buffer, 4 + n)], { type: meta.mime }) };
  if (!state.decoding) drawPending();
}

async function drawPending() {
  state.decoding = true;
  while (state.pending) {
    const { meta, blob } = state.pending;
    state.pending = null;
    try {
      const image = await createImageBitmap(blob);
      if (!state.fitted || canvas.width !== image.width || canvas.height !== image.height) {
        canvas.width = image.width;
        canvas.height = image.height;
        fit();
        state.fitted = true;
      }
      ctx.drawImage(image, 0, 0);
      image.close();
      showHeader(meta.header);
      canvas.dataset.seq = meta.seq;
      state.drawn.push(performance.now());
    } catch (err) {
      setStatus("a frame could not be decoded");
    }
  }
  state.decoding = false;
}

function showHeader(columns) {
  const header = $("header");
  while (header.children.length < columns.length) header.appendChild(document.createElement("div"));
  while (header.children.length > columns.length) header.lastChild.remove();
  columns.forEach((lines, i) => {
    header.children[i].className = "col";
    header.children[i].textContent = lines.join("\n");
  });
}

function fit() { // the largest whole multiple of the frame's size that fits the stage: crisp game pixels
  const stage = $("stage");
  const scale = Math.max(1, Math.floor(Math.min(stage.clientWidth / canvas.width,
    stage.clientHeight / canvas.height)));
  canvas.style.width = canvas.width * scale + "px";
  canvas.style.height = canvas.height * scale + "px";
}

function toggleHelp() { $("help").hidden = !$("help").hidden; }

function releaseAll() {
  state.held.clear();
  state.buttons.clear();
  state.dx = state.dy = 0;
  send({ type: "release_all" });
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey && e.code !== "ControlLeft" && e.code !== "ControlRight" && !state.mouse) return;
  if (e.key === "?" || e.code === "KeyH") {
    if (!e.repeat) toggleHelp();
    e.preventDefault();
    return;
  }
  if (e.code === "Escape") { $("help").hidden = true; return; }
  const name = KEY_NAMES[e.code];
  if (!name) return;
  e.preventDefault();
  if (e.repeat) return;
  if (state.bindings[name]) send({ type: "input", input: { command: state.bindings[name] } });
  else if (!state.held.has(name)) {
    state.held.add(name);
    send({ type: "input", input: { key_down: name } });
  }
});

document.addEventListener("keyup", (e) => {
  const name = KEY_NAMES[e.code];
  if (!name || !state.held.has(name)) return;
  e.preventDefault();
  state.held.delete(name);
  send({ type: "input", input: { key_up: name } });
});

window.addEventListener("blur", releaseAll);
document.addEventListener("visibilitychange", () => { if (document.hidden) releaseAll(); });
window.addEventListener("resize", fit);

canvas.addEventListener("click", () => {
  canvas.focus();
  if (state.mouse && document.pointerLockElement !== canvas) canvas.requestPointerLock();
});
canvas.addEventListener("contextmenu", (e) => e.preventDefault());
document.addEventListener("pointerlockchange", () => {
  if (document.pointerLockElement === canvas) return;
  for (const button of state.buttons) send({ type: "input", input: { mouse_button: button, down: false } });
  state.buttons.clear();
});
document.addEventListener("mousemove", (e) => {
  if (document.pointerLockElement !== canvas) return;
  state.dx += e.movementX;
  state.dy += e.movementY;
});
for (const [type, down] of [["mousedown", true], ["mouseup", false]]) {
  document.addEventListener(type, (e) => {
    if (document.pointerLockElement !== canvas) return;
    const button = e.button === 0 ? "left" : e.button === 2 ? "right" : null;
    if (!button || state.buttons.has(button) === down) return;
    if (down) state.buttons.add(button); else state.buttons.delete(button);
    send({ type: "input", input: { mouse_button: button, down } });
  });
}

setInterval(() => {
  if (state.dx || state.dy) {
    send({ type: "input", input: { mouse_move: [state.dx, state.dy] } });
    state.dx = state.dy = 0;
  }
}, MOUSE_PERIOD_MS);

setInterval(() => send({ type: "ping", t: performance.now() }), PING_PERIOD_MS);

setInterval(() => {
  const now = performance.now();
  state.drawn = state.drawn.filter((t) => now - t <= 2000);
  $("fps").textContent = (state.drawn.length / 2).toFixed(1) + " fps";
}, 500);

canvas.focus();
connect();
