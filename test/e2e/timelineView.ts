// Helpers for driving the Audit Timeline webview in the browser: find the extension's audit log on disk (so a
// test can write events into it), reach the webview's inner frame, and read what its rows and details show.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Frame, Page } from 'playwright-core';
import type { CodeServer } from '../harness/codeServer';

const extensionId = 'agent-airlock.agent-airlock';

/**
 * The extension's state folder for the open workspace (`<user-data>/User/workspaceStorage/<id>/<extension id>`).
 * It exists once the extension has used it: opening the timeline creates it.
 */
export async function extensionStateDir(server: CodeServer, timeoutMs = 30_000): Promise<string> {
  const root = join(server.stateDir, 'user-data', 'User', 'workspaceStorage');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(root)) {
      for (const id of readdirSync(root)) {
        const dir = join(root, id, extensionId);
        if (existsSync(dir)) return dir;
      }
    }
    if (Date.now() > deadline) throw new Error(`no ${extensionId} folder under ${root} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The frame that holds the timeline page (VS Code nests each webview's content in an inner iframe). */
export async function timelineFrame(page: Page, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const f of page.frames()) {
      const found = await f.evaluate(() => document.querySelector('#app .list') !== null).catch(() => false);
      if (found) return f;
    }
    if (Date.now() > deadline) throw new Error(`the Audit Timeline webview did not appear within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ShownRow {
  readonly seq: number;
  readonly cells: string[];
}

/** The event rows currently in the DOM (what is on screen, plus a small margin), in seq order. */
export function shownRows(frame: Frame): Promise<ShownRow[]> {
  return frame.evaluate(() =>
    Array.from(document.querySelectorAll<HTMLElement>('#app .list .row'))
      .map((r) => ({ seq: Number(r.dataset.seq), cells: Array.from(r.querySelectorAll('.cell')).map((c) => c.textContent ?? '') }))
      .sort((a, b) => a.seq - b.seq),
  );
}

/** Waits until the list shows a row for which `predicate` holds (rows arrive asynchronously, pages and live). */
export async function waitForRows(frame: Frame, predicate: (rows: ShownRow[]) => boolean, what: string, timeoutMs = 30_000): Promise<ShownRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await shownRows(frame);
    if (predicate(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; rows shown: ${rows.map((r) => r.seq).join(', ')}; ${await viewState(frame)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the page says about its window and scroll position, for a failure message. */
export function viewState(frame: Frame): Promise<string> {
  return frame
    .evaluate(() => {
      const list = document.querySelector<HTMLElement>('#app .list');
      const d = document.body.dataset;
      return (
        `status "${document.querySelector('.status-text')?.textContent ?? ''}", notice "${document.querySelector('#app .notice')?.textContent ?? ''}", ` +
        `window #${d.firstSeq}–#${d.lastSeq} (${d.held} held), list scrollTop ${list?.scrollTop} of ${list?.scrollHeight} (height ${list?.clientHeight})`
      );
    })
    .catch((e: Error) => `the page could not be read: ${e.message}`);
}

/** Column positions in a row's cells (media/src/timeline/eventList.ts rowNode). */
export const col = { time: 0, run: 1, agent: 2, type: 3, tool: 4, decision: 5, level: 6, actor: 7, duration: 8, cost: 9, summary: 10 } as const;

/** Chooses `value` in one of the toolbar's filter drop-downs (vscode-single-select), as a click would. */
export async function setFilter(frame: Frame, key: 'runId' | 'agent' | 'tool' | 'type' | 'decision' | 'level', value: string): Promise<void> {
  await frame.evaluate(
    ([k, v]) => {
      const s = document.querySelector<HTMLElement & { value: string }>(`vscode-single-select[data-filter="${k}"]`);
      if (!s) throw new Error(`no ${k} filter`);
      s.value = v;
      s.dispatchEvent(new Event('change', { bubbles: true }));
    },
    [key, value] as const,
  );
}

/** The details pane's text (title, fields, JSON), as shown. */
export function detailsText(frame: Frame): Promise<string> {
  return frame.evaluate(() => document.querySelector('#app .details')?.textContent ?? '');
}
