// Draws one snapshot of the guest library's stack state (page.js takes it with the
// library's `jspi_debug_tasks` export) as SVG: the whole shadow stack from
// __stack_low to __stack_high on the left, the used top of it byte by byte on the
// right (each byte coloured by the task whose range holds it: in place, saved in a
// heap block, or overwritten while its task was suspended), each task's [start,
// stop), where the host's top level runs (parked), and each heap block's saved bytes.

const NS = "http://www.w3.org/2000/svg";
const COLUMNS = 32;
const CELL = 15;
const MAX_ROWS = 20;
const COLORS = ["#6a9fd8", "#e0a040", "#60b060", "#b070c0", "#d06080", "#40b0b0", "#a08050", "#8090a0"];

/** The colour of task number `n` (in the order tasks were first seen). */
export const colorOf = (n) => COLORS[n % COLORS.length];

function el(parent, name, attributes, text) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  parent.append(node);
  return node;
}

const hex = (n) => `0x${n.toString(16)}`;
const printable = (byte) => (byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : "");

/** Redraws `svg` for `snap` (see page.js `snapshot`). */
export function draw(svg, snap) {
  svg.replaceChildren();
  const y = drawWhole(svg, snap);
  const grid = drawTop(svg, snap, y);
  drawRanges(svg, snap, grid);
  drawHeap(svg, snap, grid);
}

/** The whole shadow stack, to scale; returns the y of an address on it. */
function drawWhole(svg, { low, high, parked, tasks }) {
  const top = 30;
  const barHeight = 460;
  const y = (addr) => top + ((high - addr) / (high - low)) * barHeight;
  el(svg, "text", { x: 10, y: 14 }, "whole shadow stack");
  el(svg, "text", { x: 10, y: top - 4 }, `__stack_high ${hex(high)}`);
  el(svg, "text", { x: 10, y: top + barHeight + 14 }, `__stack_low ${hex(low)}`);
  el(svg, "rect", { x: 20, y: top, width: 36, height: barHeight, fill: "#eee", stroke: "#888" });
  for (const task of tasks) {
    const y0 = y(task.stop);
    el(svg, "rect", {
      x: 20, y: y0, width: 36, height: Math.max(2, y(task.start) - y0),
      fill: colorOf(task.number), "data-task": task.name,
    });
  }
  el(svg, "line", { x1: 14, x2: 62, y1: y(parked), y2: y(parked), stroke: "#2050c0", "stroke-dasharray": "3 2" });
  return y;
}

/**
 * The used top, byte by byte (or a few bytes per cell when it is large); returns its
 * grid: where it is, its rows, and the bytes per cell.
 */
function drawTop(svg, snap, y) {
  const { low, high, parked, tasks } = snap;
  const lowest = Math.min(parked, ...tasks.map((t) => t.start));
  const span = Math.max(high - lowest + 32, 128);
  const perCell = Math.max(1, Math.ceil(span / (COLUMNS * MAX_ROWS)));
  const rows = Math.ceil(span / (COLUMNS * perCell));
  const grid = { gx: 130, gy: 30, rows, perCell, viewLow: high - rows * COLUMNS * perCell };
  const { gx, gy } = grid;
  el(svg, "text", { x: gx, y: 14 }, `its top, ${perCell === 1 ? "byte by byte" : `${perCell} bytes a cell`} (highest row first; addresses rise left to right)`);
  el(svg, "line", { x1: 56, y1: y(high), x2: gx - 4, y2: gy, stroke: "#aaa" });
  el(svg, "line", { x1: 56, y1: y(Math.max(grid.viewLow, low)), x2: gx - 4, y2: gy + rows * CELL, stroke: "#aaa" });
  for (let row = 0; row < rows; row++) {
    const rowHigh = high - row * COLUMNS * perCell;
    const rowLow = rowHigh - COLUMNS * perCell;
    el(svg, "text", { x: gx - 62, y: gy + row * CELL + 11 }, hex(rowLow));
    for (let col = 0; col < COLUMNS; col++) {
      const addr = rowLow + col * perCell;
      if (addr >= low) drawCell(svg, snap, addr, gx + col * (CELL + 1), gy + row * CELL, perCell);
    }
  }
  return grid;
}

/** One cell of the top at (x, y): byte `addr` (and the next ones, to `perCell`). */
function drawCell(svg, snap, addr, x, y, perCell) {
  const task = snap.tasks.find((t) => addr >= t.start && addr < t.stop);
  let fill = "#eee";
  let stroke = "none";
  let dash = "";
  let kind = "free";
  if (task) {
    if (task.corrupted.has(addr)) {
      fill = "#e03030";
      kind = "overwritten";
    } else if (task.state === "suspended" && addr < task.evictedHi) {
      fill = "#fff";
      stroke = colorOf(task.number);
      dash = "3 2";
      kind = "saved";
    } else {
      fill = colorOf(task.number);
      kind = "in place";
    }
  }
  el(svg, "rect", {
    x, y, width: CELL, height: CELL - 1, fill, stroke, "stroke-dasharray": dash,
    "data-addr": addr, "data-kind": kind,
  });
  const ch = perCell === 1 ? printable(snap.byteAt(addr)) : "";
  if (ch) el(svg, "text", { x: x + 3, y: y + 11, fill: kind === "in place" || kind === "overwritten" ? "#fff" : "#444" }, ch);
}

/** Each task's range beside the top, the running one marked, and the parked line. */
function drawRanges(svg, { high, parked, tasks }, { gx, gy, perCell, viewLow }) {
  const right = gx + COLUMNS * (CELL + 1) + 4;
  const rowOf = (addr) => gy + ((high - addr) / (COLUMNS * perCell)) * CELL;
  tasks.forEach((task, i) => {
    const y0 = rowOf(task.stop);
    const y1 = Math.max(rowOf(task.start), y0 + 4);
    const x = right + (i % 4) * 4;
    el(svg, "line", { x1: x, x2: x, y1: y0, y2: y1, stroke: colorOf(task.number), "stroke-width": 3 });
    const label = `${task.name} ${task.state}${task.state === "running" ? " ◀" : ""}`;
    el(svg, "text", { x: x + 8, y: y0 + 10 + (i % 3) * 11, fill: colorOf(task.number) }, label);
  });
  if (parked >= viewLow) {
    const py = rowOf(parked);
    el(svg, "line", { x1: gx - 6, x2: right, y1: py, y2: py, stroke: "#2050c0", "stroke-width": 2, "stroke-dasharray": "5 3" });
    el(svg, "text", { x: gx, y: py - 2, fill: "#2050c0" }, `top level (parked) ${hex(parked)}`);
  }
}

/** The heap blocks below the top: saved bytes, lowest address first. */
function drawHeap(svg, { tasks }, { gx, gy, rows }) {
  const height = Number(svg.getAttribute("height"));
  let hy = gy + rows * CELL + 30;
  el(svg, "text", { x: gx, y: hy }, "heap blocks (saved bytes of suspended tasks)");
  hy += 8;
  const holders = tasks.filter((t) => t.state === "suspended" && t.evictedHi > t.start);
  if (holders.length === 0) el(svg, "text", { x: gx, y: hy + 12, fill: "#888" }, "none held");
  for (const task of holders) {
    const bytes = task.saved;
    el(svg, "text", { x: gx - 62, y: hy + 11, fill: colorOf(task.number) }, `${task.name} ${hex(task.block)}`);
    const shown = Math.min(bytes.length, COLUMNS * 3);
    for (let i = 0; i < shown; i++) {
      // Lowest address first, as the stack's rows read.
      const x = gx + (i % COLUMNS) * (CELL + 1);
      const yy = hy + Math.floor(i / COLUMNS) * CELL;
      el(svg, "rect", { x, y: yy, width: CELL, height: CELL - 1, fill: "#fff", stroke: colorOf(task.number) });
      const ch = printable(bytes[i]);
      if (ch) el(svg, "text", { x: x + 3, y: yy + 11 }, ch);
    }
    hy += Math.ceil(shown / COLUMNS) * CELL + 6;
    if (hy > height - 20) break;
  }
}
