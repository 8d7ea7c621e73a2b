// Pretty JSON, coloured by token. The host already formatted the text; this only splits it into spans whose
// text is set with textContent, so whatever the JSON holds is shown exactly as written.
import { el, text as textNode } from './dom';

/** Beyond this many characters the rest is shown uncoloured (one text node), to keep huge values cheap. */
const colourLimit = 50_000;
const token = /("(?:[^"\\\n]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;

export function jsonBlock(text: string, label: string): HTMLElement {
  const code = el('code');
  const head = text.slice(0, colourLimit);
  let last = 0;
  for (const m of head.matchAll(token)) {
    const at = m.index;
    if (at > last) code.append(textNode(head.slice(last, at)));
    if (m[1] !== undefined) {
      code.append(el('span', { className: m[2] !== undefined ? 'json-key' : 'json-string', text: m[1] }));
      if (m[2] !== undefined) code.append(textNode(m[2]));
    } else if (m[3] !== undefined) {
      code.append(el('span', { className: 'json-number', text: m[3] }));
    } else if (m[4] !== undefined) {
      code.append(el('span', { className: 'json-literal', text: m[4] }));
    }
    last = at + m[0].length;
  }
  if (last < text.length) code.append(textNode(text.slice(last)));
  return el('pre', { className: 'json', attrs: { 'aria-label': label, tabindex: '0' }, children: [code] });
}
