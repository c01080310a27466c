// Small DOM and formatting helpers. Every value from the API goes in as text, never as HTML.

/** An element with attributes (`class`, `data-*`, `title`, … ; `on*` functions become listeners) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`#${id} is missing from the page`);
  return node;
}

const number = new Intl.NumberFormat('en-US');

export function formatNumber(value) {
  return typeof value === 'number' ? number.format(value) : '–';
}

export function formatBytes(bytes) {
  if (typeof bytes !== 'number' || bytes <= 0) return '–';
  return bytes >= 1 << 30 ? `${(bytes / (1 << 30)).toFixed(2)} GiB` : `${(bytes / (1 << 20)).toFixed(0)} MiB`;
}

/** 950 ms, 12.3 s, 4 min 2 s, 3 h 5 min. */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatAgo(at, now = Date.now()) {
  if (typeof at !== 'number' || at <= 0) return '–';
  return `${formatDuration(Math.max(0, now - at))} ago`;
}

export function formatTime(at) {
  return typeof at === 'number' && at > 0 ? new Date(at).toLocaleTimeString() : '–';
}

export function formatCost(cost) {
  return typeof cost === 'number' ? `$${cost.toFixed(4)}` : '–';
}
