// Headless Chromium for driving the code-server workbench: the system's Debian build, driven by playwright-core.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureDebianPackages } from './debianPackages';
import { HarnessError } from './harnessError';

/** AIRLOCK_CHROMIUM points at another Chromium or Chrome (a developer laptop); Debian's otherwise. */
const executablePath = process.env.AIRLOCK_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!process.env.AIRLOCK_CHROMIUM) ensureDebianPackages(['chromium'], 'Driving the workbench in a browser');
  if (!existsSync(executablePath)) {
    throw new HarnessError('missing-system-packages', `No browser at ${executablePath}. Install Debian's chromium (apt-get install -y chromium) or set AIRLOCK_CHROMIUM to a Chromium or Chrome executable.`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WorkbenchPageOptions {
  readonly viewport?: { width: number; height: number };
  readonly colorScheme?: 'dark' | 'light';
}

/**
 * A fresh browser context (own storage, so no state leaks between tests) with one page. 1600×1000 leaves room
 * for side-by-side diffs in screenshots.
 */
export async function newWorkbenchPage(browser: Browser, options: WorkbenchPageOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1600, height: 1000 }, colorScheme: options.colorScheme ?? 'dark' });
  const page = await context.newPage();
  return { context, page };
}
