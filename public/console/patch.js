// Updates tables in place. Rows are matched by key and a kept row is changed cell by cell, so the row
// and the button under an operator's pointer stay the same elements while the stream updates them:
// a click is not lost to a re-render, and focus and text selection survive.

/**
 * Makes `tbody` show `rows` (new, detached <tr>s) in that order. A row whose key (`keyOf(row)`) is
 * already shown keeps its element, which takes the new row's attributes and text; its listeners stay,
 * so a row's listeners may depend on its key only.
 */
export function patchRows(tbody, rows, keyOf) {
  const shown = new Map();
  for (const row of tbody.rows) {
    const key = keyOf(row);
    if (key !== undefined) shown.set(key, row);
  }
  rows.forEach((row, index) => {
    const key = keyOf(row);
    const old = key === undefined ? undefined : shown.get(key);
    let node = row;
    if (old !== undefined) {
      shown.delete(key); // a duplicate key gets the new element
      morph(old, row);
      node = old;
    }
    const at = tbody.children[index] ?? null;
    if (at !== node) tbody.insertBefore(node, at);
  });
  // Every row to show is now in the first rows.length places; what follows is gone from the data.
  while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
}

/** Changes `old` to look like `next`; where their shapes differ, the differing subtree is replaced. */
function morph(old, next) {
  if (old.nodeType !== next.nodeType || old.nodeName !== next.nodeName) {
    old.replaceWith(next);
    return;
  }
  if (old.nodeType !== Node.ELEMENT_NODE) {
    if (old.nodeValue !== next.nodeValue) old.nodeValue = next.nodeValue;
    return;
  }
  for (const { name } of [...old.attributes]) if (!next.hasAttribute(name)) old.removeAttribute(name);
  for (const { name, value } of next.attributes) if (old.getAttribute(name) !== value) old.setAttribute(name, value);
  const before = [...old.childNodes];
  const after = [...next.childNodes];
  if (before.length !== after.length) {
    old.replaceChildren(...after);
    return;
  }
  before.forEach((child, i) => morph(child, after[i]));
}
