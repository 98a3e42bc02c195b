// The BPTT explorer's script: the time slider and the clicks only show and hide what the page drew.
// Slider position p < T: the forward pass has run steps 0..p. Position T + j: the backward pass has
// carried the gradient from the loss back to step T-1-j. Data: the JSON in #explore-data.
"use strict";
const DATA = JSON.parse(document.getElementById("explore-data").textContent);
const slider = document.getElementById("time");
const unitBox = document.getElementById("unit");
const tip = document.getElementById("tip");
const SVG = "http://www.w3.org/2000/svg";

function element(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawStrips() {
  // each colour strip carries its cells' colours (and, running across, their values): one rect a cell
  document.querySelectorAll("g.strip").forEach((g) => {
    const x = +g.dataset.x, y = +g.dataset.y, size = +g.dataset.size, cell = +g.dataset.cell;
    const across = g.dataset.across === "1", values = (g.dataset.values || "").split(",");
    const name = g.querySelector("title").textContent;
    g.dataset.fill.split(",").forEach((fill, i) => {
      const rect = element("rect", {x: across ? x + i * cell : x, y: across ? y : y + i * cell,
        width: across ? cell + 0.05 : size, height: across ? size : cell + 0.05, fill: "#" + fill});
      if (across) rect.appendChild(element("title", {}, `${name}[${i}] = ${values[i]}`));
      g.appendChild(rect);
    });
  });
}

function position(model, p) {
  // (phase, step k) of one model at slider position p (models with fewer steps stop at their last)
  if (p < DATA.T) return ["forward", Math.min(p, model.T - 1)];
  return ["backward", Math.max(model.T - 1 - (p - DATA.T), 0)];
}

function show(p) {
  let phase = "";
  for (const model of DATA.models) {
    const root = document.getElementById(model.id);
    const [kind, k] = position(model, p);
    phase = kind === "forward" ? `forward pass: step t=${k}` : `backward pass: the gradient has reached t=${k}`;
    root.querySelectorAll(".fwd").forEach((el) => {
      el.classList.toggle("future", kind === "forward" && +el.dataset.step > k);
    });
    root.querySelectorAll(".bwd").forEach((el) => {
      el.classList.toggle("nograd", kind === "forward" || +el.dataset.step < k);
    });
    root.querySelectorAll(".frame").forEach((el) => el.classList.toggle("now", +el.dataset.step === k));
    root.querySelectorAll(".dist").forEach((el) => { el.hidden = +el.dataset.step !== k; });
    let caption = kind === "forward" ? model.captions[k] : model.captions[2 * model.T - 1 - k];
    if (kind === "backward" && model.term) {  // one loss term picked: its own gradient norms
      const chosen = model.gradients[model.term], states = model.strips.filter((s) => s.state);
      const norms = states.map((s, j) => `‖d${chosen.label}/d${s.label}_${k}‖ = ${chosen.boxes[j][k][2]}`);
      caption = `backward: the gradient of ${chosen.label} alone has flowed back to t=${k}: ${norms.join(", ")}`;
    }
    document.getElementById(`${model.id}-caption`).textContent = caption;
    const scroll = root.querySelector(".scroll"), x = model.x0 + k * (model.col + model.gap);
    if (x < scroll.scrollLeft || x + model.col > scroll.scrollLeft + scroll.clientWidth) {
      scroll.scrollLeft = Math.max(x - scroll.clientWidth / 2, 0);  // keep the current step in view
    }
  }
  document.getElementById("phase").textContent = phase;
}

function pickParam(modelId, j) {
  const root = document.getElementById(modelId);
  root.querySelectorAll(".share").forEach((el) => { el.hidden = +el.dataset.param !== j; });
  root.querySelectorAll(".param").forEach((el) => el.classList.toggle("selected", +el.dataset.param === j));
  root.dataset.selectedParam = j;
}

function pickStep(modelId, k) {
  const root = document.getElementById(modelId);
  root.querySelectorAll(".stepinfo").forEach((el) => { el.hidden = +el.dataset.step !== k; });
}

function cellAt(model, svg, event) {
  // {k, strip, i} under the mouse: the step's column, the colour strip and its cell (unit or class)
  const box = svg.getBoundingClientRect(), x = event.clientX - box.left, y = event.clientY - box.top;
  const k = Math.floor((x - model.x0) / (model.col + model.gap));
  if (k < 0 || k >= model.T || x - model.x0 - k * (model.col + model.gap) > model.col) return null;
  for (const g of svg.querySelectorAll(`.fwd[data-step="${k}"] g.strip`)) {
    const top = +g.dataset.y, cell = +g.dataset.cell, n = g.dataset.fill.split(",").length;
    if (y >= top && y < top + n * cell) return {k, strip: g.dataset.row, i: Math.floor((y - top) / cell)};
  }
  return {k, strip: null, i: -1};
}

function describe(model, at) {
  // the tooltip of one cell: its row, unit (or class), step and value
  const strip = model.strips.find((s) => s.label === at.strip);
  const value = strip.values[at.k][at.i];
  if (at.strip !== "p(next)") return `${at.strip}[${at.i}] at t=${at.k} = ${value}`;
  const name = model.classes ? model.classes[at.i] : at.i;
  const target = model.targets && model.targets[at.k] === at.i ? " (the target)" : "";
  return `p(next = “${name}”) after t=${at.k} = ${value}${target}`;
}

function follow(unit) {
  // outline one unit of every state (h, c) across the steps and draw its value at each step below
  for (const model of DATA.models) {
    const root = document.getElementById(model.id), svg = root.querySelector("svg.main");
    const marks = svg.querySelector(".marks");
    marks.replaceChildren();
    root.querySelectorAll(".follow").forEach((g) => g.replaceChildren());
    root.querySelectorAll(".follow-label").forEach((t) => {
      t.textContent = t.textContent.replace(/\[.*\]/, unit === null ? "[·]" : `[${unit}]`);
    });
    root.querySelectorAll(".follow-hint").forEach((t) => { t.style.display = unit === null ? "" : "none"; });
    if (unit === null) continue;
    for (const strip of model.strips.filter((s) => s.state)) {
      svg.querySelectorAll(`g.strip[data-row="${strip.label}"]`).forEach((g) => {
        const n = g.dataset.fill.split(",").length, cell = +g.dataset.cell;
        if (unit >= n) return;
        marks.appendChild(element("rect", {class: "unit-mark", x: +g.dataset.x - 1, y: +g.dataset.y + unit * cell - 0.5,
          width: model.col + 2, height: Math.max(cell, 1) + 1, fill: "none", stroke: "#000", "stroke-width": 1}));
      });
      root.querySelectorAll(`.follow[data-state="${strip.label}"]`).forEach((g) => {
        const k = +g.dataset.step, values = strip.values[k];
        if (!values || unit >= values.length) return;
        const source = svg.querySelector(`.fwd[data-step="${k}"] g.strip[data-row="${strip.label}"]`);
        const fill = "#" + source.dataset.fill.split(",")[unit];
        const x = +g.dataset.x, y = +g.dataset.y;
        g.appendChild(element("rect", {x, y, width: model.col, height: 20, rx: 2, fill, stroke: "#999",
          "stroke-width": 0.5}));
        const v = values[unit];
        const dark = parseInt(fill.slice(1, 3), 16) + parseInt(fill.slice(3, 5), 16) < 260;
        g.appendChild(element("text", {x: x + model.col / 2, y: y + 14, "text-anchor": "middle",
          "font-size": 10, fill: dark ? "white" : "black"}, Math.abs(v) >= 10 ? v.toPrecision(3) : v.toFixed(2)));
      });
    }
  }
}

function rescale(panel, log) {
  // draw one parameter's share bars linearly (they add up to the sum bar) or on a log scale
  const svg = panel.querySelector("svg"), base = +svg.dataset.base, top = +svg.dataset.top;
  const decades = +svg.dataset.decades, below = +svg.dataset.below;
  const bars = [...svg.querySelectorAll(".bar")], total = svg.querySelector(".total");
  const biggest = Math.max(1e-300, +total.dataset.total,
    ...bars.map((b) => Math.max(Math.abs(+b.dataset.along), +b.dataset.norm)));
  const size = log ? (v) => Math.max(0, Math.log10(Math.abs(v) / biggest) + decades) / decades * top
                   : (v) => Math.abs(v) / biggest * top;
  const place = (rect, v) => {
    const h = v === 0 ? 0 : v > 0 ? size(v) : Math.min(size(v), below);  // the room drawn below the axis
    rect.setAttribute("y", v >= 0 ? base - h : base);
    rect.setAttribute("height", h);
  };
  bars.forEach((b) => {
    place(b.querySelector(".along"), +b.dataset.along);
    place(b.querySelector(".norm"), +b.dataset.norm);
  });
  place(total.querySelector("rect"), +total.dataset.total);
  const ticks = svg.querySelector(".ticks");
  ticks.replaceChildren();
  if (!log) return;
  for (let d = 0; d <= decades; d += 2) {  // a gridline every two decades, labelled with its value
    const y = base - (decades - d) / decades * top;
    ticks.appendChild(element("line", {x1: 42, x2: svg.getAttribute("width") - 8, y1: y, y2: y, stroke: "#ddd"}));
    ticks.appendChild(element("text", {x: 40, y: y + 3, "text-anchor": "end", "font-size": 9, fill: "#666"},
      (biggest / 10 ** d).toExponential(1)));
  }
}

function pickTerm(modelId, j) {
  // show the gradient of the whole loss (j = 0) or of one step's own loss term
  const model = DATA.models.find((m) => m.id === modelId), root = document.getElementById(modelId);
  const chosen = model.gradients[j];
  model.term = j;
  root.querySelectorAll(".gbox").forEach((g) => {
    const [fill, ink, text] = chosen.boxes[+g.dataset.state][+g.dataset.step];
    g.querySelector("rect").setAttribute("fill", fill);
    g.querySelector("text").setAttribute("fill", ink);
    g.querySelector("text").textContent = text;
  });
  const states = model.strips.filter((s) => s.state), name = j === 0 ? "L" : chosen.label;
  root.querySelectorAll(".stepinfo").forEach((el) => {  // the gradient of the chosen loss reaching each step
    el.querySelector(".stepnorms").textContent = states.map(
      (s, i) => `‖d${name}/d${s.label}‖ = ${chosen.boxes[i][+el.dataset.step][2]}`).join(", ");
  });
  root.querySelector(".loss-name").textContent = j === 0 ? root.querySelector(".loss-name").dataset.whole
    : `loss ${chosen.label}`;
  root.querySelectorAll(".share").forEach((panel) => {
    const p = chosen.params[+panel.dataset.param], svg = panel.querySelector("svg");
    panel.querySelector(".total-text").textContent = String(Number(p.total.toPrecision(4)));  // as Python's .4g
    if (!svg) return;
    svg.querySelectorAll(".bar").forEach((b, i) => {
      [b.dataset.along, b.dataset.norm] = p.shares[i];
      b.querySelector("title").textContent = `adds ${p.shares[i][0].toPrecision(4)}; on its own, size ${p.shares[i][1].toPrecision(4)}`;
    });
    svg.querySelector(".total").dataset.total = p.total;
    rescale(panel, panel.querySelector(".log").checked);
  });
  show(+slider.value);
}

drawStrips();
slider.addEventListener("input", () => show(+slider.value));
unitBox.addEventListener("input", () => follow(unitBox.value === "" ? null : Math.max(0, Math.floor(+unitBox.value))));
document.querySelectorAll(".param").forEach((el) => {
  el.addEventListener("click", () => pickParam(el.dataset.model, +el.dataset.param));
});
document.querySelectorAll(".log").forEach((box) => {
  box.addEventListener("change", () => {  // one switch per model: every parameter's panel follows it
    document.getElementById(box.dataset.model).querySelectorAll(".share").forEach((panel) => {
      const other = panel.querySelector(".log");
      if (other) { other.checked = box.checked; rescale(panel, box.checked); }
    });
  });
});
document.querySelectorAll(".term").forEach((el) => {
  el.addEventListener("change", () => pickTerm(el.dataset.model, +el.value));
});
for (const model of DATA.models) {
  const root = document.getElementById(model.id), svg = root.querySelector("svg.main");
  const name = root.querySelector(".loss-name");
  if (name) name.dataset.whole = name.textContent;
  svg.addEventListener("mousemove", (event) => {
    const at = cellAt(model, svg, event);
    tip.hidden = !at || at.strip === null;
    if (tip.hidden) return;
    tip.textContent = describe(model, at) + (model.strips.find((s) => s.label === at.strip).state
      ? " · click to follow this unit" : "");
    tip.style.left = `${event.clientX + 14}px`;
    tip.style.top = `${event.clientY + 12}px`;
  });
  svg.addEventListener("mouseleave", () => { tip.hidden = true; });
  svg.addEventListener("click", (event) => {
    const at = cellAt(model, svg, event);
    if (!at) return;
    pickStep(model.id, at.k);
    if (at.strip && model.strips.find((s) => s.label === at.strip).state) {
      unitBox.value = at.i;
      follow(at.i);
    }
  });
  pickParam(model.id, +root.dataset.selectedParam);
  pickStep(model.id, model.T - 1);
}
show(+slider.value);
