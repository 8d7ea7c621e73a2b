// The timeline's event list (media/src/timeline/eventList.ts) against a log that grows while it is shown, in a fake
// DOM with a browser's timing: answers from the host take at least a frame, scroll events arrive a frame after the
// scroll. What a person watching live runs relies on: a following view stays on the newest row, however many
// events arrive at once; a view scrolled back stays on the row being read.
import * as assert from 'node:assert/strict';
import type { TimelinePage, TimelineRow } from '../../src/protocol/timelineProtocol';
import { EventList } from '../../media/src/timeline/eventList';
import { useFakeDom } from './timelineFakeDom';
import type { FakeElement } from './timelineFakeDom';

const pageSize = 100;
const rowHeight = 24;
const listHeight = 417;

function row(seq: number): TimelineRow {
  return { seq, ts: new Date(1_800_000_000_000 + seq).toISOString(), runId: seq <= 13 ? 'run-a' : 'run-b', agent: 'agent', type: 'tool.call', tool: 'fs.read', summary: `line ${seq}` };
}

/** The host's side: keyset pages over a log, answered as of when they were asked for, delivered when the test says. */
class GrowingLog {
  last = 0;
  private readonly waiting: Array<() => void> = [];

  append(n: number): void {
    this.last += n;
  }

  page(direction: 'latest' | 'before' | 'after', seq = 0): TimelinePage {
    const all = Array.from({ length: this.last }, (_, i) => i + 1);
    if (direction === 'latest') return { rows: all.slice(-pageSize).map(row), hasBefore: this.last > pageSize, hasAfter: false };
    if (direction === 'before') {
      const older = all.filter((s) => s < seq);
      return { rows: older.slice(-pageSize).map(row), hasBefore: older.length > pageSize, hasAfter: true };
    }
    const newer = all.filter((s) => s > seq);
    return { rows: newer.slice(0, pageSize).map(row), hasBefore: seq > 0, hasAfter: newer.length > pageSize };
  }

  fetch(direction: 'before' | 'after', seq: number): Promise<TimelinePage> {
    const answer = this.page(seq > 0 ? direction : 'latest', seq);
    return new Promise((resolve) => this.waiting.push(() => resolve(answer)));
  }

  get inFlight(): number {
    return this.waiting.length;
  }

  /** Delivers the oldest answer on its way and lets the list act on it. */
  async deliver(): Promise<void> {
    this.waiting.shift()?.();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

describe('timeline event list (live updates and scrolling)', () => {
  const dom = useFakeDom();

  function open(log: GrowingLog): { list: EventList; box: FakeElement } {
    const list = new EventList({
      fetch: (direction, seq) => log.fetch(direction, seq),
      select: () => undefined,
      run: () => undefined,
      changed: () => undefined,
      rendered: () => undefined,
    });
    const box = list.element as unknown as FakeElement;
    box.clientHeight = listHeight;
    list.reset(log.page('latest'), { follow: true });
    dom.frame();
    return { list, box };
  }

  /** Answers every request (each after a frame has passed) until the list asks for nothing more. */
  async function settle(log: GrowingLog): Promise<void> {
    for (let i = 0; i < 100; i++) {
      dom.frame();
      if (log.inFlight === 0 && !dom.scrollPending) {
        dom.frame();
        if (log.inFlight === 0) return;
      }
      await log.deliver();
    }
    throw new Error('the list kept fetching');
  }

  /** The event rows in the DOM, by seq, with where each sits relative to the top of the box. */
  function onScreen(box: FakeElement): Array<{ seq: number; y: number }> {
    return box.children
      .filter((c) => c.dataset.seq !== undefined)
      .map((c) => ({ seq: Number(c.dataset.seq), y: Number.parseFloat(c.style.top ?? '0') - box.scrollTop }))
      .filter((r) => r.y > -rowHeight && r.y < listHeight)
      .sort((a, b) => a.seq - b.seq);
  }

  const atBottom = (box: FakeElement) => box.scrollTop + box.clientHeight >= box.scrollHeight - rowHeight / 2;

  it('keeps following when more than a page of events arrives at once, down to the newest row', async () => {
    const log = new GrowingLog();
    log.append(14);
    const { list, box } = open(log);
    assert.equal(list.follow, true);
    // The host noticed 121 events in one go (another process wrote them faster than it polls): two pages' worth.
    log.append(121);
    list.live(121);
    await settle(log);
    assert.equal(list.held.at(-1)?.seq, 135, 'the window reaches the newest event');
    assert.equal(list.follow, true, 'still following');
    assert.ok(atBottom(box), `the view is at the bottom (scrollTop ${box.scrollTop} of ${box.scrollHeight})`);
    assert.equal(onScreen(box).at(-1)?.seq, 135, 'the newest row is on screen');
  });

  it('fetches events appended while it was catching up with a burst', async () => {
    const log = new GrowingLog();
    log.append(14);
    const { list, box } = open(log);
    log.append(121);
    list.live(121);
    dom.frame();
    // Five more arrive while the first page of the burst is on its way (that page was answered before them).
    log.append(5);
    list.live(5);
    await settle(log);
    assert.equal(list.held.at(-1)?.seq, 140);
    assert.equal(list.follow, true);
    assert.equal(onScreen(box).at(-1)?.seq, 140);
  });

  it('keeps the row being read in place when the user scrolls back just before live rows arrive', async () => {
    const log = new GrowingLog();
    log.append(150);
    const { list, box } = open(log);
    await settle(log);
    // The user scrolls back; live rows come in before the scroll's event has reached the page.
    box.scrollTop = 120;
    log.append(40);
    list.live(40);
    // The window holds #51–#150 under one run header: 120 px down (item 5), #55 is at the top of the screen.
    const reading = { seq: 55, y: 0 };
    await log.deliver();
    await settle(log);
    assert.equal(list.held.at(-1)?.seq, 190, 'the live rows were added below');
    assert.equal(list.follow, false, 'scrolling back ended following');
    assert.deepEqual(onScreen(box)[0], reading, 'the row at the top of the screen did not move');
  });

  it('adds live rows below a view scrolled back without moving it, and follows again at the bottom', async () => {
    const log = new GrowingLog();
    log.append(150);
    const { list, box } = open(log);
    box.scrollTop = 120;
    await settle(log); // the scroll's event, then the page before the window that scrolling near its top asks for
    const reading = onScreen(box)[0]!;
    assert.equal(list.follow, false);
    log.append(40);
    list.live(40);
    await settle(log);
    assert.deepEqual(onScreen(box)[0], reading, 'the row at the top of the screen did not move');
    assert.equal(list.held.at(-1)?.seq, 190);
    box.scrollTop = box.scrollHeight;
    await settle(log);
    assert.equal(list.follow, true, 'back at the bottom, the view follows');
    log.append(1);
    list.live(1);
    await settle(log);
    assert.equal(onScreen(box).at(-1)?.seq, 191, 'the next live row is on screen');
  });

  it('keeps following when the box gets shorter in the same frame as its own scroll to the bottom', async () => {
    const log = new GrowingLog();
    log.append(150);
    const { list, box } = open(log);
    await settle(log);
    log.append(3);
    list.live(3);
    await log.deliver(); // the list scrolls itself to the new bottom; that scroll's event comes with the next frame
    box.clientHeight = listHeight - 30; // ... by when something above it has taken 30 px
    await settle(log);
    assert.equal(list.follow, true);
    assert.ok(atBottom(box), `the view is at the bottom (scrollTop ${box.scrollTop} of ${box.scrollHeight}, height ${box.clientHeight})`);
    box.clientHeight = listHeight;
  });
});
