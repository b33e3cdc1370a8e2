import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Headless Chromium for browser tests: Debian's `chromium` package (installed by `.ci/run`), or the
 * binary named by CHROMIUM_PATH. Browser tests use `describe.skipIf(!chromiumPath)` and say why.
 */
export const chromiumPath: string | undefined = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
].find((p): p is string => !!p && existsSync(p));

/** Why browser tests are skipped on this machine, or undefined when Chromium is present. */
export const browserSkipReason = chromiumPath
  ? undefined
  : 'no Chromium found (install Debian chromium or set CHROMIUM_PATH): browser tests skipped';

if (browserSkipReason) console.warn(`[browser] ${browserSkipReason}`);

/** Launches headless Chromium; the caller closes it. */
export async function launchBrowser(): Promise<Browser> {
  if (!chromiumPath) throw new Error(browserSkipReason);
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}
