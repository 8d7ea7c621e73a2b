// Drives the VS Code workbench in a browser page the way a person does: the command palette, quick picks,
// input boxes, notification buttons, editor tabs. Selectors are the workbench's own DOM (VS Code 1.100).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { artifactsDir } from '../harness/harnessPaths';

const quickInput = '.quick-input-widget';
const quickInputRows = `${quickInput} .quick-input-list .monaco-list-row`;
const toasts = '.notifications-toasts .notification-toast';

export class Workbench {
  constructor(readonly page: Page) {}

  /** Loads the workbench URL and waits until the workbench and its extension host are up. */
  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The status bar fills in once the window is restored; before that, keyboard input can be lost.
    await this.page.locator('.statusbar').waitFor({ timeout: 60_000 });
    await this.page.locator('.monaco-workbench .part.editor').waitFor();
  }

  /** Reloads the window (a new extension host, as after "Developer: Reload Window") and waits until it is up. */
  async reload(): Promise<void> {
    await this.page.reload();
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await this.page.locator('.statusbar').waitFor({ timeout: 60_000 });
    await this.page.locator('.monaco-workbench .part.editor').waitFor();
  }

  /** F1, type the command's full title ("Airlock: Open Policy"), wait until it is the highlighted entry, Enter. */
  async runCommand(title: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const match = this.page.locator(`${quickInputRows}.focused`).filter({ hasText: title }).first();
    // Right after the window opens, the extension's contributions may not be registered yet, and the palette
    // lists commands as of when it opened: reopen it until the command shows up.
    for (;;) {
      await this.openQuickInput('F1');
      await this.page.locator(`${quickInput} input`).fill(`>${title}`);
      try {
        await match.waitFor({ timeout: 3000 });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`"${title}" is not in the command palette (waited ${timeoutMs / 1000} s): ${(e as Error).message}`);
        await this.page.keyboard.press('Escape');
      }
    }
    await this.page.keyboard.press('Enter');
  }

  /** Clicks the quick-pick entry whose text contains `label` (a list from showQuickPick). */
  async pickQuickItem(label: string | RegExp): Promise<void> {
    const row = this.page.locator(quickInputRows).filter({ hasText: label }).first();
    await row.waitFor({ timeout: 30_000 });
    await row.click();
  }

  /** The rows of the quick pick on screen, as their visible text. */
  async quickPickItems(): Promise<string[]> {
    await this.page.locator(quickInputRows).first().waitFor({ timeout: 30_000 });
    return this.page.locator(quickInputRows).allInnerTexts();
  }

  /** Types into an input box (showInputBox) once it shows `prompt`, then presses Enter. */
  async answerInputBox(text: string, prompt?: string | RegExp): Promise<void> {
    const widget = this.page.locator(quickInput);
    await widget.waitFor({ state: 'visible', timeout: 30_000 });
    if (prompt !== undefined) await widget.filter({ hasText: prompt }).waitFor({ timeout: 30_000 });
    await widget.locator('input').fill(text);
    await this.page.keyboard.press('Enter');
  }

  /** Waits for a notification toast containing `text` to have faded in completely, and returns it. */
  async waitForNotification(text: string | RegExp, timeoutMs = 60_000): Promise<Locator> {
    const toast = this.page.locator(`${toasts}.notification-fade-in-done`).filter({ hasText: text }).first();
    await toast.waitFor({ state: 'visible', timeout: timeoutMs });
    return toast;
  }

  /** Hovers a toast so its buttons show (a toast under another one is collapsed), e.g. before a screenshot. */
  async revealNotification(toast: Locator): Promise<void> {
    await toast.hover();
    await toast.locator('.monaco-button').first().waitFor({ state: 'visible' }).catch(() => undefined);
  }

  /** Clicks a button (Approve, Show Pending Changes, …) on a notification. */
  async clickNotificationButton(toast: Locator, label: string): Promise<void> {
    await this.revealNotification(toast);
    await toast.locator('.monaco-button', { hasText: label }).first().click();
  }

  /** Waits for an editor tab whose label contains `name` to be the active one. */
  async waitForActiveTab(name: string | RegExp): Promise<Locator> {
    const tab = this.page.locator('.tabs-container .tab.active').filter({ hasText: name }).first();
    await tab.waitFor({ timeout: 30_000 });
    return tab;
  }

  /** The text the active editor shows (what is rendered, so only the visible lines). */
  async visibleEditorText(): Promise<string> {
    const lines = this.page.locator('.editor-group-container.active .monaco-editor .view-lines').first();
    await lines.waitFor();
    return (await lines.innerText()).replace(/\u00a0/g, ' ');
  }

  /** Saves `test/e2e/artifacts/<name>.png` (the whole window) and returns its path. */
  async screenshot(name: string): Promise<string> {
    mkdirSync(artifactsDir, { recursive: true });
    const path = join(artifactsDir, `${name}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  private async openQuickInput(key: string): Promise<void> {
    // Close whatever quick input may be open from an earlier step, then open a fresh one.
    if (await this.page.locator(quickInput).isVisible()) await this.page.keyboard.press('Escape');
    await this.page.keyboard.press(key);
    await this.page.locator(quickInput).waitFor({ state: 'visible', timeout: 15_000 });
  }
}
