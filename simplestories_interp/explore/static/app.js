// ssi explore: the page. Plain JavaScript over the JSON API (simplestories_interp/explore/server.py).
// The state (prompt, position, target, contrast, ablations, ablation mode, open component) lives in
// the URL's hash, so a finding can be shared and reloaded. Text from the model or the user goes in
// through textContent, never as HTML; only the server's unit cards (escaped there) are HTML.
"use strict";

const state = { prompt: "", pos: null, target: "", contrast: "", ablate: [], mode: "zero", comp: "" };
const $ = (id) => document.getElementById(id);
let last = null; // the last prediction
const latest = { run: 0, why: 0, comp: 0 }; // a reply that is no longer the latest request of its panel is dropped

async function api(path, params) {
  const query = new URLSearchParams(params || {}).toString();
  const response = await fetch(path + (query ? "?" + query : ""));
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function showError(err) { $("error").textContent = err ? String(err.message || err) : ""; }

function saveHash() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) {
    const value = Array.isArray(v) ? v.join(",") : v;
    if (value !== null && value !== "") p.set(k, value);
  }
  history.replaceState(null, "", "#" + p.toString());
}

function loadHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  state.prompt = p.get("prompt") || "";
  const pos = p.get("pos");
  state.pos = pos !== null && /^[0-9]{1,6}$/.test(pos) ? Number(pos) : null; // else: the last token
  state.target = p.get("target") || "";
  state.contrast = p.get("contrast") || "";
  state.ablate = (p.get("ablate") || "").split(",").filter(Boolean);
  state.mode = p.get("mode") || state.mode;
  state.comp = p.get("comp") || "";
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function params(extra) {
  return Object.assign({ prompt: state.prompt, ablate: state.ablate.join(","), mode: state.mode }, extra || {});
}

async function run() {
  state.prompt = $("prompt").value;
  showError(null);
  const ticket = ++latest.run;
  let reply;
  try {
    reply = await api("/api/predict", params());
  } catch (err) { showError(err); return; }
  if (ticket !== latest.run) return;
  last = reply;
  state.ablate = last.ablated; // the server's spelling of each id (L01H02 is L1H2)
  $("notice").textContent = last.notice || "";
  $("ablated").textContent = last.ablated.length ? "ablated: " + last.ablated.join(", ") : "";
  if (state.pos === null || !(state.pos >= 0 && state.pos < last.tokens.length)) state.pos = last.tokens.length - 1;
  renderTokens();
  pick(state.pos, false);
  saveHash();
}

function renderTokens() {
  const box = $("tokens");
  box.replaceChildren();
  $("tokens-help").textContent = "Click a token: the predictions after it. Shade: loss on the token.";
  last.tokens.forEach((t, i) => {
    const glued = t.startsWith("##");
    if (i > 0 && !glued) box.append(" ");
    const span = el("span", glued ? t.slice(2) : t, "tok" + (i === state.pos ? " sel" : ""));
    const loss = last.loss[i];
    if (loss !== null) span.style.background = `rgba(228,87,86,${Math.min(loss / 10, 1).toFixed(2)})`;
    span.title = `position ${i}` + (loss !== null ? `, loss ${loss}` : "");
    span.dataset.pos = i;
    span.addEventListener("click", () => pick(i, true));
    box.append(span);
  });
}

function pick(pos, explain) {
  state.pos = pos;
  document.querySelectorAll(".tok").forEach((s) => s.classList.toggle("sel", Number(s.dataset.pos) === pos));
  const box = $("preds");
  box.replaceChildren(el("span", `after position ${pos}: `, "meta"));
  for (const [token, p, ask] of last.predictions[pos]) {
    const b = el("span", `${JSON.stringify(token)} ${(100 * p).toFixed(1)}%`, "pred");
    b.addEventListener("click", () => { state.target = ask; $("target").value = ask; why(); });
    box.append(b);
  }
  if (explain || !state.target) {
    state.target = last.predictions[pos][0][2]; // its text, or #ID when another token reads the same
    $("target").value = state.target;
  }
  saveHash();
  if (explain) why();
}

async function why() {
  state.target = $("target").value;
  state.contrast = $("contrast").value;
  showError(null);
  const ask = { pos: state.pos, target: state.target, contrast: state.contrast };
  const ticket = ++latest.why;
  let result, base;
  try {
    result = await api("/api/attribute", params(ask));
    base = state.ablate.length ? await api("/api/attribute", params(Object.assign({ ablate: "" }, ask))) : result;
  } catch (err) { showError(err); return; }
  if (ticket !== latest.why) return;
  const what = result.contrast ? `logit(${JSON.stringify(result.target)}) − logit(${JSON.stringify(result.contrast)})`
    : `logit(${JSON.stringify(result.target)})`;
  $("logit").textContent = state.ablate.length
    ? `${what} after “${result.token}”: ${base.logit.toFixed(3)} → ${result.logit.toFixed(3)} with ${state.ablate.join(", ")} ablated (${state.mode})`
    : `${what} after “${result.token}”: ${result.logit.toFixed(3)}`;
  $("logit").dataset.value = result.logit;
  $("method").textContent = "Method: " + result.method + ".";
  renderAttribution(result.rows);
  saveHash();
}

function renderAttribution(rows) {
  const table = $("attribution");
  table.replaceChildren();
  const head = el("tr");
  for (const h of ["component", "direct contribution", "", "ablate"]) head.append(el("th", h));
  table.append(head);
  const scale = Math.max(...rows.map((r) => Math.abs(r.value)), 1e-9);
  for (const r of rows) {
    const tr = el("tr");
    const link = el("a", r.id, "comp");
    link.href = "#";
    link.addEventListener("click", (e) => { e.preventDefault(); openComponent(r.id); });
    const bar = el("span", "", "bar");
    bar.style.width = `${(100 * Math.abs(r.value) / scale).toFixed(0)}px`;
    bar.style.background = r.value >= 0 ? "#4c78a8" : "#e45756";
    const box = el("input");
    box.type = "checkbox";
    box.checked = state.ablate.includes(r.id);
    box.dataset.comp = r.id;
    box.addEventListener("change", () => toggleAblation(r.id, box.checked));
    const cells = [link, el("span", r.value.toFixed(3)), bar, box];
    for (const c of cells) { const td = el("td"); td.append(c); tr.append(td); }
    table.append(tr);
  }
}

async function toggleAblation(id, on) {
  state.ablate = on ? [...new Set([...state.ablate, id])] : state.ablate.filter((x) => x !== id);
  await run();
  await why();
}

function offsetBars(shares) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", 240); svg.setAttribute("height", 60); svg.classList.add("offsets");
  const w = 240 / shares.length;
  shares.forEach((v, i) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", i * w); r.setAttribute("width", w - 1);
    r.setAttribute("y", 50 - 50 * v); r.setAttribute("height", 50 * v);
    const t = document.createElementNS(ns, "title");
    t.textContent = `${i === shares.length - 1 ? "far/first" : -i}: ${v.toFixed(2)}`;
    r.append(t); svg.append(r);
  });
  return svg;
}

function shadeTokens(tokens, values) {
  const div = el("div", undefined, "tokens");
  const top = Math.max(...values.map(Math.abs), 1e-9);
  tokens.forEach((t, i) => {
    const glued = t.startsWith("##");
    if (i > 0 && !glued) div.append(" ");
    const span = el("span", glued ? t.slice(2) : t, "tok");
    span.style.background = `rgba(255,120,0,${(Math.abs(values[i]) / top).toFixed(2)})`;
    span.title = values[i].toFixed(3);
    div.append(span);
  });
  return div;
}

async function openComponent(id) {
  state.comp = id;
  saveHash();
  const box = $("component");
  box.replaceChildren(el("p", `loading ${id} (a first visit scans the corpus: see the terminal) …`, "meta"));
  const ticket = ++latest.comp;
  let page;
  try { page = await api(`/api/component/${encodeURIComponent(id)}`, { prompt: state.prompt }); } catch (err) {
    if (ticket === latest.comp) box.replaceChildren(el("p", String(err.message || err), "error"));
    return;
  }
  if (ticket !== latest.comp) return; // a later component was opened meanwhile
  box.replaceChildren(el("h2", `${page.id} (${page.kind})`), el("p", `over ${page.data}`, "meta"));
  if (page.kind === "head") {
    const s = page.stats;
    box.append(el("p", `class ${s.head_class}${s.offset !== null ? " at offset " + s.offset : ""}; far content ` +
      `${s.far_content.toFixed(2)}, entity lift ${s.entity_lift === null ? "n/a" : s.entity_lift.toFixed(2)}, ` +
      `top role ${s.top_role || "none"}, entropy ${s.entropy.toFixed(2)}`, "role"));
    box.append(el("div", "argmax offsets over the corpus (0 … -16, far):", "meta"), offsetBars(s.argmax_offsets));
    if (page.prompt) {
      const row = page.prompt.attention[Math.min(state.pos, page.prompt.attention.length - 1)];
      box.append(el("h3", `attention from position ${state.pos} on the prompt`), shadeTokens(page.prompt.tokens, row));
      const vis = el("div");
      vis.id = `circuitsvis-${ticket}`; // circuitsvis renders into an element named by its id
      box.append(vis);
      if (window.CircuitsVis) {
        const tokens = page.prompt.tokens.map((t) => t.replace(/^##/, ""));
        try {
          CircuitsVis.render(vis.id, CircuitsVis.AttentionHeads,
            { attention: [page.prompt.attention], tokens, attentionHeadNames: [page.id] });
        } catch (err) { vis.textContent = `(circuitsvis could not draw this head: ${err.message || err})`; }
      }
    }
  } else {
    box.append(el("p", page.role, "role"));
    if (page.prompt) box.append(el("h3", "activation on the prompt"), shadeTokens(page.prompt.tokens, page.prompt.activations));
    const card = el("div");
    card.innerHTML = page.card; // rendered and escaped by the server (render.views.render_card)
    box.append(card);
  }
  const button = el("button", state.ablate.includes(id) ? `restore ${id}` : `ablate ${id}`);
  button.id = "ablate-open";
  button.addEventListener("click", async () => { await toggleAblation(id, !state.ablate.includes(id)); openComponent(id); });
  box.insertBefore(button, box.children[2]);
}

async function start() {
  const info = await api("/api/info");
  $("model").textContent = `${info.model}: ${info.n_layers} layers × ${info.n_heads} heads, ${info.d_mlp} neurons per layer` +
    (info.saes.length ? `; SAEs ${info.saes.map((s) => s.id + " " + s.hook).join(", ")}` : "");
  state.mode = info.ablation;
  loadHash();
  $("mode").value = state.mode;
  $("prompt").value = state.prompt || "Once upon a time, Lily found a red ball in the park. She gave the ball to";
  $("target").value = state.target;
  $("contrast").value = state.contrast;
  $("run").addEventListener("click", () => { state.pos = null; state.target = ""; run(); });
  $("why").addEventListener("click", why);
  $("mode").addEventListener("change", async () => { state.mode = $("mode").value; await run(); await why(); });
  $("clear").addEventListener("click", async () => { state.ablate = []; await run(); await why(); });
  if (state.prompt) {
    await run();
    if (state.target) await why();
    if (state.comp) await openComponent(state.comp);
  }
  document.body.dataset.ready = "1";
}

start().catch(showError);
