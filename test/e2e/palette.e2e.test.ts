// A person at the keyboard: Airlock's commands from the command palette, in a real browser against a real
// VS Code (code-server) with a copy of examples/demo open. Screenshots go to test/e2e/artifacts/.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { useWorkbench } from './workbenchSession';

describe('Airlock from the command palette', function () {
  this.timeout(180_000);
  const session = useWorkbench();

  it('Airlock: Open Policy shows the workspace policy in an editor', async () => {
    const wb = session.workbench;
    await wb.runCommand('Airlock: Open Policy');
    await wb.waitForActiveTab('policy.json');
    const text = await wb.visibleEditorText();
    assert.match(text, /"version": 1/);
    assert.match(text, /"fs\.delete": "require"/);
    await wb.screenshot('01-open-policy');
  });

  it('Airlock: Run Agent… runs an example agent, asks before a delete, and reports its proposals without touching the workspace', async () => {
    const wb = session.workbench;
    const formatJs = join(session.workspace, 'src', 'format.js');
    const before = readFileSync(formatJs, 'utf8');

    await wb.runCommand('Airlock: Run Agent…');
    const agents = await wb.quickPickItems();
    assert.ok(agents.some((a) => a.includes('refactor.agent.js')), `agents offered: ${agents.join(' | ')}`);
    await wb.screenshot('02-run-agent-pick');
    await wb.pickQuickItem('refactor.agent.js');
    await wb.answerInputBox('rename formatPrice to formatMoney', /task for the agent/);

    // The demo policy sends fs.delete to a human: the gate shows what is asked and waits.
    const gate = await wb.waitForNotification(/wants to fs\.delete/);
    await wb.revealNotification(gate);
    await wb.screenshot('03-approval-gate');
    await wb.clickNotificationButton(gate, 'Approve');

    const done = await wb.waitForNotification(/refactor completed/);
    assert.match(await done.innerText(), /4 proposed changes/);
    await wb.revealNotification(done);
    await wb.screenshot('04-run-report');
    // Proposals only: the workspace file is untouched.
    assert.equal(readFileSync(formatJs, 'utf8'), before);
  });

  it('reviews a change with clicks: Pending Changes view → diff → Approve in the editor title → Roll Back… restores it', async () => {
    const wb = session.workbench;
    const page = wb.page;
    const formatJs = join(session.workspace, 'src', 'format.js');
    const before = readFileSync(formatJs, 'utf8');

    // The Airlock view container in the activity bar, then the file in Pending Changes.
    // (The count badge sits on top of the icon; a click on the icon is a click on the container.)
    await page.locator('.activitybar .action-item a[aria-label^="Agent Airlock"]').first().click({ force: true });
    const changesView = page.locator('.pane').filter({ has: page.locator('.pane-header', { hasText: 'Pending Changes' }) }).first();
    const fileRow = changesView.locator('.monaco-list-row', { hasText: 'format.js' }).first();
    await fileRow.waitFor({ timeout: 30_000 });
    await wb.screenshot('05-pending-changes-view');
    await fileRow.click();

    // The real diff editor: the workspace file on the left, the proposal on the right.
    await wb.waitForActiveTab(/format\.js \(proposed by refactor\)/);
    const diff = page.locator('.editor-group-container.active .monaco-diff-editor').first();
    await diff.waitFor({ timeout: 30_000 });
    await expectText(diff.locator('.editor.original .view-lines').first(), /export function formatPrice\(/);
    await expectText(diff.locator('.editor.modified .view-lines').first(), /export function formatMoney\(/);
    // Each hunk carries its own Approve / Reject, as a comment thread on the proposed side.
    await diff.locator('.review-widget', { hasText: 'Hunk 1 of 2' }).first().waitFor({ timeout: 30_000 });
    await wb.screenshot('06-review-diff');

    // Approve in the editor title: the file on disk changes (snapshot first).
    await page.locator('.editor-group-container.active .editor-actions .action-label[aria-label^="Approve Change"]').first().click();
    await wb.waitForNotification(/applied src\/format\.js \(snapshot /);
    await waitUntil(() => readFileSync(formatJs, 'utf8') !== before, 'src/format.js to change on disk');
    assert.match(readFileSync(formatJs, 'utf8'), /export function formatMoney\(/);
    await wb.screenshot('07-approved');

    // Roll Back… from the palette: pick the snapshot, see the preview, confirm; the bytes come back.
    await wb.runCommand('Airlock: Roll Back…');
    const snapshots = await wb.quickPickItems();
    assert.ok(snapshots.some((i) => /refactor/.test(i) && /format\.js/.test(i)), `snapshots offered: ${snapshots.join(' | ')}`);
    await wb.screenshot('08-rollback-pick');
    await wb.pickQuickItem(/format\.js/);
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 30_000 });
    await wb.screenshot('09-rollback-preview');
    await dialog.locator('.monaco-button', { hasText: /^Roll Back/ }).first().click();
    await waitUntil(() => readFileSync(formatJs, 'utf8') === before, 'src/format.js to be restored byte for byte');
    await wb.waitForNotification(/Rolled back/);
    await wb.screenshot('10-rolled-back');
  });

  it('pending changes survive a reload of the window: the rest of the run is still there to review and approve', async () => {
    const wb = session.workbench;
    const page = wb.page;
    const cartJs = join(session.workspace, 'src', 'cart.js');
    const before = readFileSync(cartJs, 'utf8');

    await wb.reload();
    await page.locator('.statusbar-item[aria-label^="Agent Airlock"]').first().waitFor({ timeout: 60_000 });
    // (The window restores the side bar as it was; the command shows the view whatever that was.)
    await wb.runCommand('Airlock: Show Pending Changes');
    const changesView = page.locator('.pane').filter({ has: page.locator('.pane-header', { hasText: 'Pending Changes' }) }).first();
    const cartRow = changesView.locator('.monaco-list-row', { hasText: 'cart.js' }).first();
    await cartRow.waitFor({ timeout: 30_000 });
    // format.js was approved (and then rolled back) before the reload: it is no longer pending.
    assert.equal(await changesView.locator('.monaco-list-row', { hasText: 'format.js' }).count(), 0);
    // The Runs view still lists the run, as one of an earlier session, with how it ended.
    const runsView = page.locator('.pane').filter({ has: page.locator('.pane-header', { hasText: 'Runs' }) }).first();
    await runsView.locator('.monaco-list-row', { hasText: 'refactor' }).filter({ hasText: 'completed' }).first().waitFor({ timeout: 30_000 });
    await wb.screenshot('11-pending-after-reload');

    await cartRow.click();
    await wb.waitForActiveTab(/cart\.js \(proposed by refactor\)/);
    await page.locator('.editor-group-container.active .editor-actions .action-label[aria-label^="Approve Change"]').first().click();
    await wb.waitForNotification(/applied src\/cart\.js \(snapshot /);
    await waitUntil(() => readFileSync(cartJs, 'utf8') !== before, 'src/cart.js to change on disk');
    assert.equal(readFileSync(cartJs, 'utf8'), before.replace(/\bformatPrice\b/g, 'formatMoney'));
  });

  it('the status bar shield offers Stop All Agents, which says that nothing is running', async () => {
    const wb = session.workbench;
    await wb.page.locator('.statusbar-item[aria-label^="Agent Airlock"]').first().click();
    const items = await wb.quickPickItems();
    assert.ok(items.some((i) => i.includes('Stop All Agents')) && items.some((i) => i.includes('Open Audit Timeline')) && items.some((i) => i.includes('Pending Changes')), `menu: ${items.join(' | ')}`);
    await wb.screenshot('12-status-menu');
    await wb.pickQuickItem('Stop All Agents');
    await wb.waitForNotification('no agents are running');
  });
});

async function expectText(locator: Locator, pattern: RegExp): Promise<void> {
  await waitUntil(async () => pattern.test((await locator.innerText()).replace(/\u00a0/g, ' ')), `text matching ${pattern}`);
}

async function waitUntil(ok: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
