// The only way the timeline webview creates elements. Text goes in through textContent and attributes through
// setAttribute with names fixed in this file's callers, so agent-controlled text can never become markup,
// script, a link or a style. There is deliberately no way to pass HTML here.
export interface ElOptions {
  readonly className?: string;
  readonly text?: string;
  /** Tooltip text (an attribute value is never parsed as markup). */
  readonly title?: string;
  readonly attrs?: Readonly<Record<string, string>>;
  readonly children?: ReadonlyArray<Node | undefined>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, o?: ElOptions): HTMLElementTagNameMap[K];
export function el(tag: string, o?: ElOptions): HTMLElement;
export function el(tag: string, o: ElOptions = {}): HTMLElement {
  const e = document.createElement(tag);
  if (o.className) e.className = o.className;
  if (o.text !== undefined) e.textContent = shown(o.text);
  if (o.title !== undefined) e.title = shown(o.title);
  if (o.attrs) for (const [k, v] of Object.entries(o.attrs)) setSafeAttribute(e, k, v);
  if (o.children) for (const c of o.children) if (c) e.append(c);
  return e;
}

/** A codicon (the font from @vscode/codicons, copied next to the bundle). */
export function icon(name: string, label?: string): HTMLElement {
  const i = el('span', { className: `codicon codicon-${name}` });
  if (label) {
    i.setAttribute('role', 'img');
    i.setAttribute('aria-label', label);
  } else {
    i.setAttribute('aria-hidden', 'true');
  }
  return i;
}

/** Attributes that could run script or load something are refused, whatever their value. */
function setSafeAttribute(e: HTMLElement, name: string, value: string): void {
  const n = name.toLowerCase();
  if (n.startsWith('on') || n === 'style' || n === 'href' || n === 'src' || n === 'srcdoc' || n === 'action' || n === 'formaction' || n === 'xlink:href') {
    throw new Error(`dom.el: the attribute ${name} is not allowed`);
  }
  e.setAttribute(name, value);
}

/**
 * Bidirectional-override and isolate controls (Trojan Source) are shown as visible markers instead of silently
 * reordering what follows them; every other character is shown as it is.
 */
const bidiControls = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;
export function shown(s: string): string {
  return s.replace(bidiControls, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** A text node for agent-controlled text. */
export function text(s: string): Text {
  return document.createTextNode(shown(s));
}

export function clear(e: Element): void {
  e.replaceChildren();
}
