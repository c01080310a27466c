// The service's words (states, statuses) as the console shows them. The words themselves come from
// ./vocabulary.js, which the service generates from its contract: the console copies none of them.
import { el } from './dom.js';
import { BADGE_TONES } from './vocabulary.js';

/** A word as a label: `_` reads as a space. */
export function wordLabel(word) {
  return String(word).replaceAll('_', ' ');
}

/** A badge for `word` of the contract's list `list` (e.g. 'SESSION_STATES'), in the colour the service gives it (plain otherwise). */
export function badge(list, word) {
  const tones = BADGE_TONES[list] ?? {};
  const tone = Object.hasOwn(tones, word) ? tones[word] : 'plain';
  return el('span', { class: `badge tone-${tone}`, 'data-word': word }, wordLabel(word));
}
