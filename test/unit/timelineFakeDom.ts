// Just enough of a browser for the timeline's event list (media/src/timeline/eventList.ts) to run under mocha:
// elements with attributes, classes and children, one scrolling box whose scrollTop is clamped like a browser's,
// and the timing that matters for a live list: a scroll event reaches the page in the next frame, not when the
// scroll happens; a frame runs scroll events, then animation-frame callbacks, then resize observers.

export class FakeElement {
  readonly children: FakeElement[] = [];
  parent: FakeElement | undefined;
  className = '';
  textContent = '';
  title = '';
  hidden = false;
  readonly style: Record<string, string> = {};
  /** The box's inner height (what the layout would give it); set by the test. */
  clientHeight = 0;
  private top = 0;
  private readonly attrs = new Map<string, string>();
  private readonly listeners = new Map<string, Array<(e: unknown) => void>>();

  constructor(
    readonly tagName: string,
    private readonly dom: FakeDom,
  ) {}

  readonly classList = {
    add: (c: string) => void (this.className = [...new Set([...this.classes(), c])].join(' ')),
    remove: (c: string) => void (this.className = this.classes().filter((x) => x !== c).join(' ')),
    contains: (c: string) => this.classes().includes(c),
  };

  get dataset(): Record<string, string> {
    const d: Record<string, string> = {};
    for (const [k, v] of this.attrs) if (k.startsWith('data-')) d[k.slice(5).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = v;
    return d;
  }

  setAttribute(name: string, value: string): void {
    this.attrs.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }

  append(...nodes: FakeElement[]): void {
    for (const n of nodes) {
      n.remove();
      n.parent = this;
      this.children.push(n);
    }
  }
  remove(): void {
    if (!this.parent) return;
    this.parent.children.splice(this.parent.children.indexOf(this), 1);
    this.parent = undefined;
  }
  replaceChildren(...nodes: FakeElement[]): void {
    for (const c of [...this.children]) c.remove();
    this.append(...nodes);
  }

  addEventListener(type: string, listener: (e: unknown) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  dispatch(type: string): void {
    for (const l of this.listeners.get(type) ?? []) l({ type, target: this });
  }
  focus(): void {}

  /** The content's height: the lowest bottom edge of a child positioned with top/height (the list's spacer and rows). */
  get scrollHeight(): number {
    return Math.max(this.clientHeight, ...this.children.map((c) => px(c.style.top) + px(c.style.height)));
  }
  get scrollTop(): number {
    return this.top;
  }
  set scrollTop(value: number) {
    const clamped = Math.max(0, Math.min(Math.round(value), this.scrollHeight - this.clientHeight));
    if (clamped === this.top) return;
    this.top = clamped;
    this.dom.scrolled(this);
  }

  private classes(): string[] {
    return this.className.split(/\s+/).filter(Boolean);
  }
}

function px(v: string | undefined): number {
  return v ? Number.parseFloat(v) || 0 : 0;
}

type Observer = { callback: () => void; targets: Map<FakeElement, number> };

export class FakeDom {
  private readonly scrollEvents = new Set<FakeElement>();
  private animationFrames: Array<(t: number) => void> = [];
  private readonly observers: Observer[] = [];

  /** Puts `document`, `ResizeObserver` and `requestAnimationFrame` on the global object; returns how to undo it. */
  install(): () => void {
    const g = globalThis as Record<string, unknown>;
    const saved = { document: g.document, ResizeObserver: g.ResizeObserver, requestAnimationFrame: g.requestAnimationFrame };
    g.document = { createElement: (tag: string) => new FakeElement(tag, this), createTextNode: (text: string) => ({ textContent: text }) };
    const observers = this.observers;
    g.ResizeObserver = class {
      private readonly o: Observer;
      constructor(callback: () => void) {
        this.o = { callback, targets: new Map() };
        observers.push(this.o);
      }
      observe(target: FakeElement): void {
        this.o.targets.set(target, -1); // observed elements are reported once, in the first frame
      }
    };
    g.requestAnimationFrame = (f: (t: number) => void) => this.animationFrames.push(f);
    return () => Object.assign(g, saved);
  }

  scrolled(e: FakeElement): void {
    this.scrollEvents.add(e);
  }

  /** True while a scroll event is waiting for the next frame. */
  get scrollPending(): boolean {
    return this.scrollEvents.size > 0;
  }

  /** One rendering frame, in a browser's order: pending scroll events, animation frames, resize observers. */
  frame(): void {
    const scrolled = [...this.scrollEvents];
    this.scrollEvents.clear();
    for (const e of scrolled) e.dispatch('scroll');
    const frames = this.animationFrames;
    this.animationFrames = [];
    for (const f of frames) f(performance.now());
    for (const o of this.observers) {
      let changed = false;
      for (const [t, seen] of o.targets) {
        if (t.clientHeight !== seen) {
          o.targets.set(t, t.clientHeight);
          changed = true;
        }
      }
      if (changed) o.callback();
    }
  }
}

/** Call inside `describe`: one fake DOM, installed for the suite's tests and removed after them. */
export function useFakeDom(): FakeDom {
  const dom = new FakeDom();
  let uninstall = (): void => undefined;
  before(() => {
    uninstall = dom.install();
  });
  after(() => uninstall());
  return dom;
}
