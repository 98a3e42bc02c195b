// The BPTT explorer's script: the time slider and the clicks only show and hide what the page drew.
// Slider position p < T: the forward pass has run steps 0..p. Position T + j: the backward pass has
// carried the gradient from the loss back to step T-1-j. Data: the JSON in #explore-data.
"use strict";
const DATA = JSON.parse(document.getElementById("explore-data").textContent);
const slider = document.getElementById("time");

function drawStrips() {
  // each colour strip carries its cells' colours (and, running across, their values): one rect a cell
  const svg = "http://www.w3.org/2000/svg";
  document.querySelectorAll("g.strip").forEach((g) => {
    const x = +g.dataset.x, y = +g.dataset.y, size = +g.dataset.size, cell = +g.dataset.cell;
    const across = g.dataset.across === "1", values = (g.dataset.values || "").split(",");
    const name = g.querySelector("title").textContent;
    g.dataset.fill.split(",").forEach((fill, i) => {
      const rect = document.createElementNS(svg, "rect");
      rect.setAttribute("x", across ? x + i * cell : x);
      rect.setAttribute("y", across ? y : y + i * cell);
      rect.setAttribute("width", across ? cell + 0.05 : size);
      rect.setAttribute("height", across ? size : cell + 0.05);
      rect.setAttribute("fill", "#" + fill);
      if (across) {
        const tip = document.createElementNS(svg, "title");
        tip.textContent = `${name}[${i}] = ${values[i]}`;
        rect.appendChild(tip);
      }
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
    const caption = kind === "forward" ? model.captions[k] : model.captions[2 * model.T - 1 - k];
    document.getElementById(`${model.id}-caption`).textContent = caption;
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

drawStrips();
slider.addEventListener("input", () => show(+slider.value));
document.querySelectorAll(".param").forEach((el) => {
  el.addEventListener("click", () => pickParam(el.dataset.model, +el.dataset.param));
});
document.querySelectorAll(".col").forEach((el) => {
  el.addEventListener("click", () => pickStep(el.dataset.model, +el.dataset.col));
});
for (const model of DATA.models) {
  pickParam(model.id, +document.getElementById(model.id).dataset.selectedParam);
  pickStep(model.id, model.T - 1);
}
show(+slider.value);
