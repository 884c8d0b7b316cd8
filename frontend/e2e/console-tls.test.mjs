// The professor's console with --tls: it shows the certificate's SHA-256
// fingerprint, the same one the server logs and announces, so students can
// compare it. (Client-mode pinning of that fingerprint is in scripts/test-desktop.sh.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, launch, newPage, signIn, shot, until, assertClean } from './harness.mjs';

const server = new Server(['--tls']);
let browser;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('console shows the TLS certificate fingerprint the server logged', async () => {
  const logged = await until(() => /fingerprint=([0-9a-f]{64})/.exec(server.log)?.[1], 'the fingerprint in the server log');
  const page = await newPage(browser);
  await signIn(page, server.url, 'prof', 'password');
  await page.goto(server.url + '/#console');
  const shown = (await page.getByTestId('tls-fingerprint').locator('code').textContent()).trim();
  assert.equal(shown, logged.match(/../g).join(':').toUpperCase());
  await page.getByTestId('tls-fingerprint').scrollIntoViewIfNeeded();
  await shot(page, 'console-tls.png');
  assertClean(page);
});

test('console without --tls shows no fingerprint', async () => {
  const plain = new Server();
  addUser(plain.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await plain.start();
  try {
    const page = await newPage(browser);
    await signIn(page, plain.url, 'prof', 'password');
    await page.goto(plain.url + '/#console');
    await page.getByTestId('qr').waitFor();
    assert.equal(await page.getByTestId('tls-fingerprint').count(), 0);
    assertClean(page);
  } finally {
    await plain.stop();
    plain.cleanup();
  }
});
