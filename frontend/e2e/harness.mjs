// End-to-end harness: the real teamchat binary (built with the web UI) on
// 127.0.0.1 with a temp data dir, and Debian's Chromium driven by playwright-core.
// Only loopback addresses are ever used.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = process.env.TEAMCHAT_BIN ?? join(ROOT, 'bin/teamchat-web');
export const SHOTS = join(ROOT, 'docs/screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Polls cond() until it returns a truthy value (no fixed sleeps), or fails with what it waited for. */
export async function until(cond, what, timeout = 15_000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function addUser(dataDir, username, password, role, displayName) {
  const r = spawnSync(BIN, ['user', 'add', '--data', dataDir, '--username', username, '--role', role, '--display-name', displayName], {
    input: password + '\n',
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`user add failed (${r.status}): ${r.stderr}${r.stdout}`);
}

/** One server process; restart() brings it back on the same port and data dir. */
export class Server {
  /** @param {string[]} args extra `teamchat serve` flags, such as ['--tls'] */
  constructor(args = []) {
    this.args = args;
    this.dataDir = mkdtempSync(join(tmpdir(), 'teamchat-e2e-'));
    this.port = 0;
    this.url = '';
    this.proc = null;
    this.log = '';
  }

  async start() {
    const addr = `127.0.0.1:${this.port}`;
    const proc = spawn(BIN, ['serve', '--addr', addr, '--data', this.dataDir, '--no-mdns', ...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const exited = new Promise((res) => proc.once('exit', (code, sig) => res(`exited (${code ?? sig})`)));
    this.exited = exited;
    const url = await Promise.race([
      new Promise((res) => {
        let buf = '';
        const onData = (d) => {
          buf += d.toString();
          this.log += d.toString();
          const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(buf);
          if (m) res(`http://127.0.0.1:${m[1]}`);
        };
        proc.stdout.on('data', onData);
        proc.stderr.on('data', (d) => (this.log += d.toString()));
      }),
      exited.then((why) => {
        throw new Error(`server ${why} before printing its URL:\n${this.log}`);
      }),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`server printed no URL within 20 s:\n${this.log}`)), 20_000)),
    ]);
    this.url = url;
    this.port = Number(new URL(url).port);
    await until(async () => (await fetch(url + '/healthz')).ok, 'GET /healthz');
    return this;
  }

  /** Kills the process hard (no graceful shutdown) and waits until it is gone. */
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
    this.proc = null;
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const done = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r(null), 10_000))]);
    if (done === null) await this.kill();
    this.proc = null;
  }

  cleanup() {
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A tiny REST client with a cookie session (for setup and for checking the server's view). */
export async function apiSession(base, username, password) {
  const res = await fetch(base + '/api/v1/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const { csrf_token, user } = await res.json();
  const call = async (method, path, body) => {
    let r;
    // Seeding many messages meets the per-user message rate limit: honour Retry-After.
    for (let attempt = 0; ; attempt++) {
      r = await fetch(base + '/api/v1' + path, {
        method,
        headers: { Cookie: cookie, 'X-CSRF-Token': csrf_token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (r.status !== 429 || attempt >= 20) break;
      const wait = Number(r.headers.get('Retry-After') ?? '1');
      await r.text();
      await new Promise((res) => setTimeout(res, Math.max(100, Math.min(wait, 5) * 1000)));
    }
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { user, call };
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A page that fails the test on any dialog (alert/confirm) and on uncaught page errors. */
export async function newPage(browser, opts = {}) {
  const { tag: _tag, ...ctxOpts } = opts;
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 }, ...ctxOpts });
  const page = await ctx.newPage();
  page.dialogs = [];
  page.errors = [];
  page.on('dialog', (d) => {
    page.dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // Every bundled asset (scripts, CSS, KaTeX fonts) must load; API errors are the app's business.
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() >= 400 && !u.pathname.startsWith('/api/')) page.errors.push(`${r.status()} for ${u.pathname}`);
  });
  // Offline classroom: the page may only talk to its own server.
  page.on('request', (r) => {
    const u = r.url();
    if (!/^(data:|blob:|about:)/.test(u) && new URL(u).hostname !== '127.0.0.1') page.errors.push(`request to another host: ${u}`);
  });
  page.on('requestfailed', (r) => {
    const u = new URL(r.url());
    // /healthz is the reconnect probe: it fails by design while the server is away.
    if (!u.pathname.startsWith('/api/') && u.pathname !== '/healthz' && u.hostname === '127.0.0.1') page.errors.push(`request failed: ${u.pathname} ${r.failure()?.errorText}`);
  });
  if (process.env.E2E_DEBUG) {
    const tag = opts.tag ?? 'page';
    page.on('websocket', (ws) => {
      ws.on('framereceived', (f) => console.error(`[${tag} <-] ${String(f.payload).slice(0, 300)}`));
      ws.on('framesent', (f) => console.error(`[${tag} ->] ${String(f.payload).slice(0, 300)}`));
      ws.on('close', () => console.error(`[${tag}] websocket closed`));
    });
  }
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|WebSocket connection/.test(m.text())) page.errors.push('console: ' + m.text());
  });
  return page;
}

export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name) });
}

/** Signs in on the join screen. */
export async function signIn(page, base, username, password) {
  await page.goto(base + '/');
  await page.getByRole('tab', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
}

/** The conversation list entry whose title is exactly `name`. */
export function convItem(page, name) {
  return page.getByTestId('conversation').filter({ has: page.getByTestId('conversation-title').getByText(name, { exact: true }) });
}

export async function openConversation(page, name) {
  await convItem(page, name).click();
  await page.getByTestId('chat-title').filter({ hasText: name }).waitFor();
}

export async function sendMessage(page, text) {
  const box = page.getByTestId('composer');
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until a message whose rendered text contains `text` is shown (confirmed, not pending). */
export async function waitForMessage(page, text, timeout = 15_000) {
  await page.getByTestId('message').filter({ hasText: text }).first().waitFor({ timeout });
}

/** No dialog (alert/confirm) opened and no page error happened on this page. */
export function assertClean(page) {
  if (page.dialogs.length) throw new Error(`a dialog opened: ${page.dialogs.join(' | ')}`);
  if (page.errors.length) throw new Error(`page errors:\n${page.errors.join('\n')}`);
}
